package handoff

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// exchange is one HTTP request handed from a waiting ServeHTTP (the
// handler) to a session goroutine. Its state machine is the whole hand-off
// protocol:
//
//	           take                    finish
//	queued ─────────────▶ taken ─────────────────▶ finished
//	  │      (session)      │        (session)        ▲
//	  ├── giveBack ─────────┼─────────────────────────┘ (outcome retry)
//	  │   (session ending)  │
//	  │                     └── abandon ──┐ (handler: client gone, or the
//	  │                                   ▼  response or replay bound passed,
//	  │                                      no head sent)
//	  └────── abandon ─────────────▶ abandoned
//	          (handler: client gone, or the queue bound passed)
//
// The ResponseWriter has one owner at a time: the handler while the
// request is queued and again once it has seen the request finished or has
// abandoned it; the session only while the state is taken. Every
// transition happens under ex.mu, and the session writes only under ex.mu
// after checking the state, so the two never write at once.
//
// A taken exchange is not always answered by the run that took it. When
// journaling is on, the session may answer it itself (a refusal page, or
// the cached page of a double submit) and go on waiting; or it may end the
// run and start a replay, handing the exchange to the new run (or to a
// forked branch session) with the go statement that starts it; only that
// run touches it from then on. A replay re-arms the response timer with
// the replay bound (replaying set) until the replayed flow reaches the
// live step, which re-arms the response bound; a tick in between abandons
// the exchange as above, and the holder, the session the replay runs in,
// is ended. A replay whose session ends before it reaches the live step
// finishes the exchange with the retry outcome, as giveBack does a queued
// one, so that the request is mapped again.
//
// The session's queue (a list under the session's mu) holds queued
// exchanges only: take and giveBack take the exchange off it, and so does
// the handler right after it abandons a queued one, so a request whose
// client has gone leaves the queue, and frees its slot and its bytes, at
// once.
//
// Each bound is a timer of its own, so both are exact. The queue timer
// runs from the arrival until the take, which stops it. The response timer
// runs from the take, which arms it; when the session waits idle in Next,
// the handler arms it on arrival instead, since the take is then
// immediate. The handler selects on both and acts on a tick only if the
// state still calls for it: a tick that lost the race to a take or a
// finish is ignored.
//
// Lock order: the session's mu, then ex.mu. The handler never holds both.
type exchange struct {
	w   http.ResponseWriter
	r   *http.Request
	hdr http.Header // w.Header(), taken by the handler

	done   chan struct{} // receives one value on finish or giveBack; none on abandon
	queueT *time.Timer   // the queue bound
	respT  *time.Timer   // the response bound

	response   time.Duration // the response bound; 0 means none
	queueArmed bool          // the queue bound is running
	respArmed  bool          // the response bound is running
	write      time.Duration // per-write deadline on the connection; 0 means none
	bytes      int64         // what the request's body holds, counted while queued

	mu          sync.Mutex
	state       exState
	outcome     outcome
	wroteHeader bool                                           // the session committed the response head
	replaying   bool                                           // the response timer bounds a replay
	holder      *Session                                       // the session replaying for it, if not the one it was handed to
	status      int                                            // the committed status
	direct      bool                                           // the head and buf have gone to w: the session writes to w itself
	buf         []byte                                         // what the session wrote, until it goes to w
	dl          interface{ SetWriteDeadline(time.Time) error } // sets w's connection write deadline; nil if none
	dlFound     bool                                           // dl has been looked for
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

// A Pool recycles exchanges, each with its channel and two timers, for
// the sessions that share it: the hand-off is the per-request hot path,
// and an exchange is most of what it would otherwise allocate. A server's
// sessions share one; a session given none makes its own. (It is not a
// package-level pool: channels and timers made inside a synctest bubble
// must not be used outside it.)
type Pool struct{ p sync.Pool }

// NewPool returns an empty Pool.
func NewPool() *Pool {
	return &Pool{p: sync.Pool{New: func() any {
		ex := &exchange{
			done:   make(chan struct{}, 1),
			queueT: time.NewTimer(time.Hour),
			respT:  time.NewTimer(time.Hour),
		}
		ex.queueT.Stop()
		ex.respT.Stop()
		return ex
	}}}
}

func (p *Pool) get(w http.ResponseWriter, r *http.Request, t Timeouts) *exchange {
	ex := p.p.Get().(*exchange)
	ex.w, ex.r, ex.hdr = w, r, w.Header()
	ex.response, ex.write = max(t.Response, 0), max(t.Write, 0)
	ex.bytes = bodyBytes(r)
	return ex
}

// put returns an exchange to the pool. Only the handler calls it, once the
// session no longer holds the exchange: it finished, handed it back, or
// never saw it. Timers are stopped (Go 1.23 timers: no stale tick is left
// behind), and the request is let go.
func (p *Pool) put(ex *exchange) {
	ex.stopTimers()
	select {
	case <-ex.done:
	default:
	}
	ex.w, ex.r, ex.hdr = nil, nil, nil
	ex.state, ex.outcome, ex.wroteHeader = exQueued, outServed, false
	ex.replaying, ex.holder = false, nil
	ex.status, ex.direct = 0, false
	if cap(ex.buf) > maxBuffered {
		ex.buf = nil
	} else {
		ex.buf = ex.buf[:0]
	}
	ex.dl, ex.dlFound = nil, false
	p.p.Put(ex)
}

// bodyBytes is what a request's body holds once the server has parsed it:
// its length, or, for a body sent without one (chunked), what its form
// holds.
func bodyBytes(r *http.Request) int64 {
	if r.ContentLength >= 0 {
		return r.ContentLength
	}
	var n int
	for k, vs := range r.PostForm {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	if mf := r.MultipartForm; mf != nil {
		for k, vs := range mf.Value {
			n += len(k)
			for _, v := range vs {
				n += len(v)
			}
		}
		for _, fs := range mf.File {
			for _, f := range fs {
				n += int(f.Size)
			}
		}
	}
	return int64(n)
}

// take is called by the session, holding its own mu, when it pulls ex off
// its queue. It fails when the handler already gave up on the request.
// The response bound starts here: it bounds the wait once the session has
// the request, never the time spent queued.
func (ex *exchange) take() bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.state != exQueued {
		return false
	}
	ex.state = exTaken
	if ex.queueArmed {
		ex.queueT.Stop()
		ex.queueArmed = false
	}
	ex.armResponse()
	return true
}

// stopTimers stops the bounds that are running. Only timers that were
// armed are touched: each Stop takes the timer's lock.
func (ex *exchange) stopTimers() {
	if ex.queueArmed {
		ex.queueT.Stop()
		ex.queueArmed = false
	}
	if ex.respArmed {
		ex.respT.Stop()
		ex.respArmed = false
	}
}

// armResponse starts the response bound, once.
func (ex *exchange) armResponse() {
	if ex.response > 0 && !ex.respArmed {
		ex.respT.Reset(ex.response)
		ex.respArmed = true
	}
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
// state the exchange was in: if that was exFinished the handler must act
// on the outcome instead.
func (ex *exchange) abandon() exState {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	prev := ex.state
	if prev == exQueued || prev == exTaken {
		ex.state = exAbandoned
	}
	return prev
}

// abandonIf abandons ex if it is still in state st, reporting whether it
// did.
func (ex *exchange) abandonIf(st exState) bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.state != st {
		return false
	}
	ex.state = exAbandoned
	return true
}

// abandonUnanswered abandons ex if the session holds it and has not started
// the response, reporting whether it did, whether the bound that passed
// was a replay's, and the session holding it if that is not the one it
// was handed to.
func (ex *exchange) abandonUnanswered() (ok, replaying bool, holder *Session) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.state != exTaken || ex.wroteHeader {
		return false, false, nil
	}
	ex.state = exAbandoned
	return true, ex.replaying, ex.holder
}

// armReplay bounds, from now, the replay that will answer ex, and names
// the session that runs it (nil: the one ex was handed to). A zero bound
// leaves the response bound as it is.
func (ex *exchange) armReplay(d time.Duration, holder *Session) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.state != exTaken {
		return
	}
	ex.holder = holder
	if d <= 0 {
		return
	}
	ex.replaying = true
	ex.respT.Reset(d)
	ex.respArmed = true
}

// endReplay is called when the replay reaches the live step: the response
// bound starts again, for the application's answer.
func (ex *exchange) endReplay() {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.state != exTaken || !ex.replaying {
		return
	}
	ex.replaying = false
	if ex.response > 0 {
		ex.respT.Reset(ex.response)
	} else {
		ex.respT.Stop()
		ex.respArmed = false
	}
}

// armWriteLocked gives the session's next write WriteTimeout to go
// through: the deadline is set before each write, so a slow but live
// reader keeps a stream going while a dead one is cut. The last deadline
// also bounds the final flush net/http makes once the handler returns;
// net/http then clears it, so it cannot cut the connection's next
// response. The connection is reached through wrappers as
// [http.ResponseController] does, looked up once per request
// (ResponseController would allocate an error on each call for a writer
// that cannot set deadlines). It must be called with ex.mu held and the
// state taken.
func (ex *exchange) armWriteLocked() {
	if ex.write <= 0 {
		return
	}
	if !ex.dlFound {
		ex.dl, ex.dlFound = deadliner(ex.w), true
	}
	if ex.dl != nil {
		ex.dl.SetWriteDeadline(time.Now().Add(ex.write))
	}
}

// deadliner finds what sets w's write deadline, unwrapping middleware's
// ResponseWriters as [http.ResponseController] does.
func deadliner(w http.ResponseWriter) interface{ SetWriteDeadline(time.Time) error } {
	for {
		switch t := w.(type) {
		case interface{ SetWriteDeadline(time.Time) error }:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// maxBuffered is how much of a response the session goroutine keeps in
// the exchange rather than writing it to the ResponseWriter itself. The
// handler writes it, head first, once the session has finished the
// request (see Session.settle): net/http's writing path (its response
// head alone has a frame of nearly 500 bytes) then runs on the handler's
// goroutine, whose stack is large anyway, and not on the session's, which
// would otherwise have to grow from 2 KiB to 4 KiB and keep that while it
// waits in Next. Responses that pass it, and streams (Flush), are written
// by the session itself from then on.
const maxBuffered = 8 << 10

// bufferLocked reports whether n more bytes of the response go to ex.buf.
// ex.mu must be held.
func (ex *exchange) bufferLocked(n int) bool {
	return !ex.direct && len(ex.buf)+n <= maxBuffered
}

// writeUnlock writes p, or s if p is nil, to w after what is buffered,
// and unlocks ex.mu, which the caller holds (the unlock is deferred, for
// a ResponseWriter that panics).
func (ex *exchange) writeUnlock(p []byte, s string) (int, error) {
	defer ex.mu.Unlock()
	if err := ex.spillLocked(); err != nil {
		return 0, err
	}
	if p == nil {
		return io.WriteString(ex.w, s)
	}
	return ex.w.Write(p)
}

// spillLocked makes the session write to w itself from now on: it sends
// the committed head and the buffered body, and gives the write that
// follows its deadline. ex.mu must be held, the state must be taken and
// the head committed.
func (ex *exchange) spillLocked() error {
	ex.armWriteLocked()
	if ex.direct {
		return nil
	}
	ex.direct = true
	ex.w.WriteHeader(ex.status)
	if len(ex.buf) == 0 {
		return nil
	}
	_, err := ex.w.Write(ex.buf)
	ex.buf = ex.buf[:0]
	return err
}

// sendBuffered writes the response the session finished without writing
// it to w: its head and body. It runs on the handler's goroutine, which
// owns ex again once the session has finished it.
func (ex *exchange) sendBuffered() {
	if !ex.wroteHeader || ex.direct {
		return
	}
	ex.direct = true
	ex.armWriteLocked()
	ex.w.WriteHeader(ex.status)
	if len(ex.buf) > 0 {
		ex.w.Write(ex.buf)
	}
}
