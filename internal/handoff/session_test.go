package handoff

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sessionWait = 5 * time.Second

// runningSession is a Session whose Run goroutine the test owns.
type runningSession struct {
	*Session
	done chan struct{} // closed when Run returns
}

// startSession runs a session for app; at the end of the test it is
// closed and its goroutine must have exited.
func startSession(t *testing.T, opts Options) *runningSession {
	t.Helper()
	s := NewSession(context.Background(), opts)
	rs := &runningSession{Session: s, done: make(chan struct{})}
	go func() {
		defer close(rs.done)
		s.Run()
	}()
	t.Cleanup(func() {
		s.Close(EndShutdown)
		select {
		case <-rs.done:
		case <-time.After(sessionWait):
			t.Error("session goroutine did not exit")
		}
	})
	return rs
}

func (rs *runningSession) wait(t *testing.T) {
	t.Helper()
	select {
	case <-rs.done:
	case <-time.After(sessionWait):
		t.Fatal("session goroutine did not exit")
	}
}

func getReq(target string) *http.Request { return httptest.NewRequest(http.MethodGet, target, nil) }

// serveOnce hands r to s as a net/http handler would.
func serveOnce(s *Session, r *http.Request) (*httptest.ResponseRecorder, bool) {
	w := httptest.NewRecorder()
	retry := s.Serve(w, r, Timeouts{Response: sessionWait})
	return w, retry
}

type served struct {
	w     *httptest.ResponseRecorder
	retry bool
}

// serveAsync serves r on its own goroutine and delivers the result.
func serveAsync(s *Session, r *http.Request, t Timeouts) <-chan served {
	out := make(chan served, 1)
	go func() {
		w := httptest.NewRecorder()
		retry := s.Serve(w, r, t)
		out <- served{w, retry}
	}()
	return out
}

func recv[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(sessionWait):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

func TestNextErrReturnsErrSessionClosedAfterClose(t *testing.T) {
	errs := make(chan error, 3)
	app := func(r *Handle) {
		fmt.Fprint(r, "first")
		errs <- r.NextErr()
		errs <- r.NextErr() // again: returns at once
		_, err := r.Write([]byte("x"))
		errs <- err
	}
	rs := startSession(t, Options{App: app})
	w, retry := serveOnce(rs.Session, getReq("/"))
	assert.False(t, retry)
	assert.Equal(t, "first", w.Body.String())
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	assert.False(t, rs.Closed())

	rs.Close(EndIdle)
	assert.ErrorIs(t, recv(t, errs), ErrSessionClosed)
	assert.ErrorIs(t, recv(t, errs), ErrSessionClosed)
	assert.ErrorIs(t, recv(t, errs), ErrNoRequest, "no request in hand after the session ended")
	rs.wait(t)
	assert.True(t, rs.Closed())
	assert.ErrorIs(t, context.Cause(rs.Context()), EndIdle, "the first reason sticks")
}

func TestNextEndsTheGoroutineAndRunsDeferredCalls(t *testing.T) {
	deferred := make(chan error, 1)
	ends := make(chan error, 1)
	reached := make(chan struct{}, 1)
	app := func(r *Handle) {
		defer func() { deferred <- context.Cause(r.Context()) }()
		fmt.Fprint(r, "a")
		r.Next()
		reached <- struct{}{}
	}
	rs := startSession(t, Options{App: app, OnEnd: func(s *Session, reason error) { ends <- reason }})
	w, _ := serveOnce(rs.Session, getReq("/"))
	assert.Equal(t, "a", w.Body.String())

	rs.Close(EndEvicted)
	rs.wait(t)
	assert.ErrorIs(t, recv(t, deferred), EndEvicted)
	assert.ErrorIs(t, recv(t, ends), EndEvicted)
	assert.Empty(t, reached, "Next did not return")
}

func TestServeRetriesOnceTheSessionHasEnded(t *testing.T) {
	ends := make(chan error, 1)
	app := func(r *Handle) { fmt.Fprint(r, "only") }
	rs := startSession(t, Options{App: app, OnEnd: func(s *Session, reason error) { ends <- reason }})
	w, retry := serveOnce(rs.Session, getReq("/"))
	assert.False(t, retry)
	assert.Equal(t, "only", w.Body.String())
	rs.wait(t)
	assert.ErrorIs(t, recv(t, ends), EndReturned)
	assert.ErrorIs(t, context.Cause(rs.Context()), EndReturned)
	assert.True(t, rs.Closed())

	w, retry = serveOnce(rs.Session, getReq("/"))
	assert.True(t, retry, "the caller must map the request again")
	assert.Empty(t, w.Body.String())
	assert.Empty(t, w.Header())
	assert.False(t, w.Flushed)
	assert.False(t, rs.Busy())
}

func TestRequestsQueuedBehindAnEndingSessionAreHandedBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		holding := make(chan struct{})
		release := make(chan struct{})
		app := func(r *Handle) {
			close(holding)
			<-release
			fmt.Fprint(r, "first")
		}
		rs := startSession(t, Options{App: app})
		first := serveAsync(rs.Session, getReq("/?n=1"), Timeouts{})
		<-holding
		second := serveAsync(rs.Session, getReq("/?n=2"), Timeouts{})
		third := serveAsync(rs.Session, getReq("/?n=3"), Timeouts{})
		synctest.Wait()
		require.Equal(t, 3, rs.Queued())
		close(release)

		got := recv(t, first)
		assert.False(t, got.retry)
		assert.Equal(t, "first", got.w.Body.String())
		for _, c := range []<-chan served{second, third} {
			got := recv(t, c)
			assert.True(t, got.retry)
			assert.Empty(t, got.w.Body.String(), "a handed-back request is untouched")
		}
	})
}

func TestQueueIsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		holding := make(chan struct{})
		gate := make(chan struct{})
		order := make(chan string, 16)
		app := func(r *Handle) {
			close(holding)
			<-gate
			for {
				n := r.Param("n")
				order <- n
				fmt.Fprint(r, n)
				r.Next()
			}
		}
		rs := startSession(t, Options{App: app})
		results := []<-chan served{serveAsync(rs.Session, getReq("/?n=0"), Timeouts{})}
		<-holding
		const queued = 8
		for i := 1; i <= queued; i++ {
			results = append(results, serveAsync(rs.Session, getReq("/?n="+strconv.Itoa(i)), Timeouts{}))
			// Arrival order is the order of the hand-off: one at a time.
			synctest.Wait()
			require.Equal(t, i+1, rs.Queued())
		}
		close(gate)
		for i, c := range results {
			got := recv(t, c)
			assert.False(t, got.retry)
			assert.Equal(t, strconv.Itoa(i), got.w.Body.String())
		}
		for i := range queued + 1 {
			assert.Equal(t, strconv.Itoa(i), <-order)
		}
		synctest.Wait()
		require.False(t, rs.Busy())
	})
}

func TestQueueFullGets503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		holding := make(chan struct{})
		gate := make(chan struct{})
		app := func(r *Handle) {
			close(holding)
			<-gate
			for {
				fmt.Fprint(r, r.Param("n"))
				r.Next()
			}
		}
		rs := startSession(t, Options{App: app, QueueDepth: 2})
		results := []<-chan served{serveAsync(rs.Session, getReq("/?n=0"), Timeouts{})}
		<-holding
		for i := 1; i <= 2; i++ {
			results = append(results, serveAsync(rs.Session, getReq("/?n="+strconv.Itoa(i)), Timeouts{}))
			synctest.Wait()
			require.Equal(t, i+1, rs.Queued())
		}
		w, retry := serveOnce(rs.Session, getReq("/?n=3"))
		assert.False(t, retry)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
		close(gate)
		for i, c := range results {
			got := recv(t, c)
			assert.Equal(t, strconv.Itoa(i), got.w.Body.String())
		}
	})
}

func TestWriteAfterTheClientLeftIsErrClientGone(t *testing.T) {
	holding := make(chan struct{})
	proceed := make(chan struct{})
	errs := make(chan []error, 1)
	app := func(r *Handle) {
		close(holding)
		<-proceed
		var got []error
		select {
		case <-r.RequestContext().Done():
		default:
			got = append(got, errors.New("ClientGone not closed"))
		}
		got = append(got, r.RequestContext().Err())
		_, err := r.Write([]byte("x"))
		got = append(got, err)
		_, err = r.WriteString("y")
		got = append(got, err)
		got = append(got, r.Flush(), r.Stream())
		errs <- got
		assert.NoError(t, r.Context().Err(), "the session itself is alive")
		r.Next()
		fmt.Fprint(r, "after")
		r.Next()
	}
	rs := startSession(t, Options{App: app})
	ctx, cancel := context.WithCancel(context.Background())
	res := serveAsync(rs.Session, getReq("/").WithContext(ctx), Timeouts{})
	<-holding
	cancel()
	got := recv(t, res)
	assert.False(t, got.retry)
	assert.Empty(t, got.w.Body.String(), "nobody writes to a gone client")
	close(proceed)

	e := recv(t, errs)
	require.Len(t, e, 5)
	assert.ErrorIs(t, e[0], context.Canceled)
	for _, err := range e[1:] {
		assert.ErrorIs(t, err, ErrClientGone)
	}
	w, _ := serveOnce(rs.Session, getReq("/"))
	assert.Equal(t, "after", w.Body.String())
}

func TestNoImplicitFirstNext(t *testing.T) {
	errs := make(chan error, 2)
	app := func(r *Handle) {
		_, err := r.Write([]byte("x"))
		errs <- err
		errs <- r.Flush()
		assert.Nil(t, r.HTTP())
		assert.Equal(t, "", r.Param("n"))
		r.Next()
		fmt.Fprint(r, "n="+r.Param("n"))
		r.Next()
	}
	rs := startSession(t, Options{App: app, NoImplicitFirstNext: true})
	assert.ErrorIs(t, recv(t, errs), ErrNoRequest)
	assert.ErrorIs(t, recv(t, errs), ErrNoRequest)
	w, _ := serveOnce(rs.Session, getReq("/?n=7"))
	assert.Equal(t, "n=7", w.Body.String())
}

func TestPanicAnswers500AndEndsTheSession(t *testing.T) {
	ends := make(chan error, 1)
	app := func(r *Handle) { panic("boom") }
	rs := startSession(t, Options{App: app, OnEnd: func(_ *Session, reason error) { ends <- reason }})
	w, retry := serveOnce(rs.Session, getReq("/"))
	assert.False(t, retry)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.NotContains(t, w.Body.String(), "boom")
	assert.ErrorIs(t, recv(t, ends), EndPanic)
	rs.wait(t)
}

// Issue 8 #15: a panic after the response has started must not end it
// cleanly, passing a truncated response off as whole: Handle says to abort
// the connection.
func TestPanicAfterWritingAbortsTheResponse(t *testing.T) {
	app := func(r *Handle) {
		fmt.Fprint(r, "partial")
		panic("boom")
	}
	rs := startSession(t, Options{App: app})
	w := httptest.NewRecorder()
	assert.Equal(t, Aborted, rs.Handle(w, getReq("/"), Timeouts{}))
	rs.wait(t)
	assert.ErrorIs(t, context.Cause(rs.Context()), EndPanic)
}

func TestPanicErrAbortHandlerRepanicsInTheHandler(t *testing.T) {
	app := func(r *Handle) { panic(http.ErrAbortHandler) }
	rs := startSession(t, Options{App: app})
	var v any
	func() {
		defer func() { v = recover() }()
		serveOnce(rs.Session, getReq("/"))
	}()
	assert.Equal(t, http.ErrAbortHandler, v)
	rs.wait(t)
	assert.ErrorIs(t, context.Cause(rs.Context()), EndPanic)
}

func TestValueAndSetValue(t *testing.T) {
	s := NewSession(context.Background(), Options{App: func(*Handle) {}})
	defer s.Close(EndShutdown)
	type keyA struct{}
	type keyB struct{}
	assert.Nil(t, s.Value(keyA{}))
	s.SetValue(keyA{}, 1)
	s.SetValue(keyB{}, "b")
	s.SetValue("plain", 3.5)
	assert.Equal(t, 1, s.Value(keyA{}))
	assert.Equal(t, "b", s.Value(keyB{}))
	assert.Equal(t, 3.5, s.Value("plain"))
	s.SetValue(keyA{}, 2)
	assert.Equal(t, 2, s.Value(keyA{}))
	s.SetValue(keyA{}, nil)
	assert.Nil(t, s.Value(keyA{}))
	assert.Equal(t, "b", s.Value(keyB{}), "deleting one key leaves the others")
	s.SetValue("never set", nil) // deleting a missing key is fine

	// Safe from many goroutines at once.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				s.SetValue(i, j)
				_ = s.Value(i)
				_ = s.Value(keyB{})
			}
		})
	}
	wg.Wait()
	for i := range 8 {
		assert.Equal(t, 99, s.Value(i))
	}
}

func TestValueIsSharedWithTheSessionGoroutine(t *testing.T) {
	type key struct{}
	app := func(r *Handle) {
		for {
			n, _ := r.Session().Value(key{}).(int)
			r.Session().SetValue(key{}, n+1)
			fmt.Fprintf(r, "%d", n+1)
			r.Next()
		}
	}
	rs := startSession(t, Options{App: app})
	for i := 1; i <= 3; i++ {
		w, _ := serveOnce(rs.Session, getReq("/"))
		assert.Equal(t, strconv.Itoa(i), w.Body.String())
	}
	assert.Equal(t, 3, rs.Value(key{}))
}

func TestSessionAccessors(t *testing.T) {
	before := time.Now()
	s := NewSession(context.Background(), Options{App: func(*Handle) {}, LogID: "abc", Token: "tok"})
	defer s.Close(EndShutdown)
	assert.Equal(t, "abc", s.LogID())
	assert.False(t, s.Created().Before(before))
	assert.False(t, s.LastSeen().Before(s.Created().Truncate(time.Microsecond)))
	assert.False(t, s.Busy())
	assert.Zero(t, s.Queued())

	// Parent cancellation ends the session.
	parent, cancel := context.WithCancelCause(context.Background())
	child := NewSession(parent, Options{App: func(*Handle) {}})
	assert.False(t, child.Closed())
	cancel(EndShutdown)
	assert.True(t, child.Closed())
	assert.ErrorIs(t, context.Cause(child.Context()), EndShutdown)
}
