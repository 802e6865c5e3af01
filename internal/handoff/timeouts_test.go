package handoff

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The queue and response bounds, tested in a synctest bubble: the clock
// is fake, so each bound is checked to the nanosecond and no test waits
// on the wall clock.

func TestQueueTimeoutAnswers503AndTheAppNeverSeesTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		holding := make(chan struct{})
		gate := make(chan struct{})
		seen := make(chan string, 4)
		app := func(r *Handle) {
			close(holding)
			<-gate
			for {
				seen <- r.Param("n")
				fmt.Fprint(r, r.Param("n"))
				r.Next()
			}
		}
		rs := startSession(t, Options{App: app})
		first := serveAsync(rs.Session, getReq("/?n=1"), Timeouts{})
		<-holding

		const queue = 30 * time.Millisecond
		w := httptest.NewRecorder()
		began := time.Now()
		retry := rs.Serve(w, getReq("/?n=2"), Timeouts{Queue: queue, Response: time.Hour})
		assert.Equal(t, queue, time.Since(began), "the queue bound is exact")
		assert.False(t, retry)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
		assert.Contains(t, w.Body.String(), "timed out waiting")
		assert.Equal(t, 1, rs.Queued(), "the timed-out request left the queue")

		close(gate)
		assert.Equal(t, "1", recv(t, first).w.Body.String())
		got, _ := serveOnce(rs.Session, getReq("/?n=3"))
		assert.Equal(t, "3", got.Body.String())
		assert.Equal(t, "1", <-seen)
		assert.Equal(t, "3", <-seen, "the timed-out request never reached the app")
	})
}

// The response bound runs from the take, exactly: time spent queued
// behind another request does not count against it, and it does not run
// late either.
func TestResponseTimeoutRunsExactlyFromTheTake(t *testing.T) {
	for _, tc := range []struct {
		name  string
		queue time.Duration
	}{
		{"queue unbounded", 0},
		{"queue longer than response", time.Hour},
		{"queue shorter than response", 60 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const held, response = 55 * time.Millisecond, 80 * time.Millisecond
				holding := make(chan struct{})
				takenAt := make(chan time.Time, 1)
				app := func(r *Handle) {
					close(holding)
					time.Sleep(held) // the first request holds the session
					fmt.Fprint(r, "first")
					r.Next()
					takenAt <- time.Now()
					<-r.Context().Done() // ours is never answered
				}
				rs := startSession(t, Options{App: app})
				first := serveAsync(rs.Session, getReq("/"), Timeouts{})
				<-holding
				w := httptest.NewRecorder()
				began := time.Now()
				rs.Serve(w, getReq("/"), Timeouts{Queue: tc.queue, Response: response})
				answered := time.Now()
				assert.Equal(t, http.StatusServiceUnavailable, w.Code)
				assert.Contains(t, w.Body.String(), "did not answer in time")
				taken := <-takenAt
				assert.Equal(t, held, taken.Sub(began))
				assert.Equal(t, response, answered.Sub(taken), "the response bound runs from the take, exactly")
				assert.Equal(t, "first", recv(t, first).w.Body.String())
			})
		})
	}
}

func TestStartedResponseOutlivesTheResponseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		app := func(r *Handle) {
			fmt.Fprint(r, "head")
			require.NoError(t, r.Flush())
			time.Sleep(time.Hour) // far longer than the response timeout
			fmt.Fprint(r, " tail")
			r.Next()
		}
		rs := startSession(t, Options{App: app})
		w := httptest.NewRecorder()
		retry := rs.Serve(w, getReq("/"), Timeouts{Response: 20 * time.Millisecond})
		assert.False(t, retry)
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, "head tail", w.Body.String())
		assert.True(t, w.Flushed)
		assert.False(t, rs.Closed())
	})
}

// endLog records how a session ended: the reasons given to OnEnd, the
// SessionEnd hooks and the cleanups, in order.
type endLog struct {
	mu  sync.Mutex
	log []string
}

func (l *endLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, s)
}

func (l *endLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.log...)
}

func (l *endLog) hooks() *Hooks {
	return &Hooks{SessionEnd: func(_ *Session, reason error) { l.add("hook: " + reason.Error()) }}
}

// Issue 8 #14: a session that did not answer within the response bound is
// ended, once, with EndUnresponsive; requests queued for it are handed
// back, and the app returning later ends nothing again.
func TestResponseTimeoutEndsTheSessionOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ends endLog
		release := make(chan struct{})
		late := make(chan error, 1)
		app := func(r *Handle) {
			r.Cleanup(func() { ends.add("cleanup") })
			<-release
			_, err := r.Write([]byte("too late"))
			late <- err
			r.Next()
			t.Error("Next returned on an ended session")
		}
		rs := startSession(t, Options{App: app, Hooks: ends.hooks(),
			OnEnd: func(_ *Session, reason error) { ends.add("onEnd: " + reason.Error()) }})
		const response = time.Second
		res := serveAsync(rs.Session, getReq("/"), Timeouts{Response: response})
		synctest.Wait()
		queued := serveAsync(rs.Session, getReq("/?n=2"), Timeouts{})
		synctest.Wait()
		require.Equal(t, 2, rs.Queued())

		got := recv(t, res)
		assert.Equal(t, http.StatusServiceUnavailable, got.w.Code)
		assert.True(t, rs.Closed())
		assert.ErrorIs(t, context.Cause(rs.Context()), EndUnresponsive)
		assert.True(t, recv(t, queued).retry, "a request queued for it is mapped again")
		want := []string{"cleanup", "hook: " + EndUnresponsive.Error(), "onEnd: " + EndUnresponsive.Error()}
		assert.Equal(t, want, ends.all())
		select {
		case <-rs.Ended():
		default:
			t.Error("Ended is not closed")
		}

		close(release)
		assert.ErrorIs(t, <-late, ErrClientGone)
		rs.wait(t)
		assert.Equal(t, want, ends.all(), "the end ran once")
	})
}
