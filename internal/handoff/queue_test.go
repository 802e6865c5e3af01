package handoff

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// busySession runs a session whose first request holds it until release is
// closed; then it answers each request with its n parameter.
func busySession(t *testing.T, opts Options) (rs *runningSession, first <-chan served, release chan struct{}) {
	t.Helper()
	holding := make(chan struct{})
	release = make(chan struct{})
	opts.App = func(r *Handle) {
		close(holding)
		<-release
		for {
			fmt.Fprint(r, r.Param("n"))
			r.Next()
		}
	}
	rs = startSession(t, opts)
	first = serveAsync(rs.Session, getReq("/?n=0"), Timeouts{})
	<-holding
	return rs, first, release
}

// Issue 8 #13: a request whose client has gone leaves the queue at once,
// so abandoned requests cannot fill it, and Arrived counts live requests
// only.
func TestAbandonedRequestsLeaveTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs, first, release := busySession(t, Options{QueueDepth: 2})
		for range 4 { // twice the queue's depth
			ctx, cancel := context.WithCancel(context.Background())
			res := serveAsync(rs.Session, getReq("/?n=gone").WithContext(ctx), Timeouts{})
			synctest.Wait()
			cancel()
			assert.Empty(t, recv(t, res).w.Body.String())
		}
		select {
		case <-(&Handle{s: rs.Session}).Arrived():
			t.Error("Arrived reports abandoned requests")
		default:
		}
		a := serveAsync(rs.Session, getReq("/?n=a"), Timeouts{})
		b := serveAsync(rs.Session, getReq("/?n=b"), Timeouts{})
		synctest.Wait()
		close(release)
		assert.Equal(t, "0", recv(t, first).w.Body.String())
		for _, c := range []<-chan served{a, b} {
			got := recv(t, c)
			assert.Equal(t, http.StatusOK, got.w.Code, "the queue has room: %s", got.w.Body)
		}
	})
}

// Issue 9 #4: an abandoned request's parsed body is freed as soon as its
// client goes, not when the session gets round to it.
func TestAbandonedRequestIsFreedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs, first, release := busySession(t, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		req := postReq("/", url.Values{"big": {strings.Repeat("x", 1<<20)}}).WithContext(ctx)
		freed := weak.Make(req)
		res := serveAsync(rs.Session, req, Timeouts{})
		req = nil
		synctest.Wait()
		cancel()
		recv(t, res)
		runtime.GC()
		assert.Nil(t, freed.Value(), "the session's queue still holds the abandoned request")
		close(release)
		recv(t, first)
	})
}

// postReq is a parsed form POST, as the server hands it over.
func postReq(target string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := r.ParseForm(); err != nil {
		panic(err)
	}
	return r
}

// Issue 9 #4: the bytes queued requests hold are bounded per session
// (beyond the first request in the queue) and over all the sessions that
// share a budget.
func TestQueuedBytesAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget := NewByteBudget(250)
		opts := Options{MaxQueuedBytes: 150, Budget: budget}
		form := func(n int) url.Values { return url.Values{"v": {strings.Repeat("x", n-2)}} } // n bytes encoded
		a, firstA, releaseA := busySession(t, opts)
		b, firstB, releaseB := busySession(t, opts)

		big := serveAsync(a.Session, postReq("/?n=big", form(200)), Timeouts{})
		synctest.Wait() // the first in the queue may exceed the session's bound
		w, _ := serveOnce(a.Session, postReq("/?n=more", form(10)))
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
		assert.Contains(t, w.Body.String(), "session busy: queued requests hold too many bytes")
		small := serveAsync(a.Session, getReq("/?n=get"), Timeouts{}) // bodiless requests hold nothing
		synctest.Wait()

		w, _ = serveOnce(b.Session, postReq("/?n=over", form(60)))
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Contains(t, w.Body.String(), "server busy: queued requests hold too many bytes")
		ok := serveAsync(b.Session, postReq("/?n=fits", form(50)), Timeouts{})
		synctest.Wait()
		assert.EqualValues(t, 250, budget.Used())

		close(releaseA)
		for _, c := range []<-chan served{firstA, big, small} {
			assert.Equal(t, http.StatusOK, recv(t, c).w.Code)
		}
		assert.EqualValues(t, 50, budget.Used(), "taken requests give their bytes back")
		close(releaseB)
		for _, c := range []<-chan served{firstB, ok} {
			assert.Equal(t, http.StatusOK, recv(t, c).w.Code)
		}
		assert.Zero(t, budget.Used())
		require.Zero(t, a.Queued()+b.Queued())
	})
}
