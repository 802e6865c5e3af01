package handoff

import (
	"net/http"
	"sync"
	"time"
)

// exchange is one HTTP request handed from a waiting ServeHTTP to a session
// goroutine. Its state machine is the whole hand-off protocol:
//
//	queued ──take──▶ taken ──finish──▶ finished
//	   │                │
//	   └──abandon──▶ abandoned ◀──abandon──┘
//	queued ──giveBack──▶ finished (outcome retry)
//
// Every transition happens under mu, so the handler goroutine and the
// session goroutine never both believe they own the ResponseWriter: the
// session writes only while the state is taken, the handler writes only
// after it has moved the state to abandoned or seen finished.
type exchange struct {
	w http.ResponseWriter
	r *http.Request

	done chan struct{} // receives one value on finish/giveBack; none on abandon

	mu          sync.Mutex
	state       exState
	outcome     outcome
	wroteHeader bool // the session committed the response head
}

type exState uint8

const (
	exQueued exState = iota
	exTaken
	exFinished
	exAbandoned
)

// outcome tells the waiting handler what happened to its request.
type outcome uint8

const (
	outServed outcome = iota // the session answered
	outRetry                 // the session ended before taking it: map again
	outPanic                 // the app panicked while holding it
	outAbort                 // the app panicked with http.ErrAbortHandler
)

// newExchange allocates an exchange per request. They are not pooled: a
// package-level pool is state shared by every server in the process, and
// its channels and timers would cross testing/synctest bubbles (a fatal
// error), for an allocation of a few dozen bytes.
func newExchange(w http.ResponseWriter, r *http.Request) *exchange {
	return &exchange{done: make(chan struct{}, 1), w: w, r: r}
}

// recycle lets go of a finished exchange's writer and request. Only the
// handler calls it, after it has seen the exchange finished: the session
// no longer holds it then.
func (ex *exchange) recycle() {
	ex.w, ex.r = nil, nil
}

// take is called by the session when it pulls ex from its inbox. It fails
// when the handler already gave up on the request.
func (ex *exchange) take(time.Time) bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.state != exQueued {
		return false
	}
	ex.state = exTaken
	return true
}

// finishLocked is called by the session, holding ex.mu, when it is done
// with the request.
func (ex *exchange) finishLocked(o outcome) {
	if ex.state != exTaken {
		return
	}
	ex.state = exFinished
	ex.outcome = o
	ex.done <- struct{}{}
}

// giveBack returns a request the session never took, so that the handler
// maps it again (to a fresh session, or to an error if the server is
// closing).
func (ex *exchange) giveBack() {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.state != exQueued {
		return
	}
	ex.state = exFinished
	ex.outcome = outRetry
	ex.done <- struct{}{}
}

// abandon is called by the handler when it stops waiting. It reports the
// state the exchange was in; if that was exFinished the handler must act on
// the outcome instead. It must be called with ex.mu held.
func (ex *exchange) abandonLocked() exState {
	prev := ex.state
	if prev == exQueued || prev == exTaken {
		ex.state = exAbandoned
	}
	return prev
}
