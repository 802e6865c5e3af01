package handoff

import (
	"net/http"
	"runtime/debug"
	"time"
)

// Hooks are lifecycle callbacks, each optional (ASP's global.asa events,
// for sessions and requests). They run on the session goroutine, except
// that a session ended for not answering in time (EndUnresponsive) runs
// its SessionEnd on the goroutine that ended it. A panic in a hook is
// recovered and logged; it never ends the session or the server.
type Hooks struct {
	// SessionStart runs when a session's goroutine starts, before the
	// application function. If the browser's previous session is still
	// ending, it runs after that session's SessionEnd.
	SessionStart func(s *Session)
	// SessionEnd runs once when a session has ended, after its cleanups
	// and before requests queued for it go to a new session. reason is one
	// of the End* errors: EndReturned, EndIdle, EndLifetime, EndEvicted,
	// EndShutdown, EndPanic or EndUnresponsive.
	SessionEnd func(s *Session, reason error)
	// RequestStart runs when the session takes a request, before the
	// application sees it.
	RequestStart func(r *Handle)
	// RequestEnd runs when the session is done with a request (at Next,
	// End, or when the application returns), while it is still in hand.
	RequestEnd func(r *Handle)
	// BeforeCommit runs just before a response's status and headers are
	// sent: the last moment to change them.
	BeforeCommit func(r *Handle)
	// Replay runs once per replay (a rewind, a re-show, a forked tab's
	// first run, a takeover's first run), when the replayed flow reaches
	// the live step (err nil) or fails: err wraps ErrDivergence for a
	// divergence, is EndReplayTimeout when the replay ran out of time, or
	// is the session's end cause. live is the request the replay serves
	// (for a takeover, the request that took the session over); steps is
	// the number of recorded requests replayed, and took the time from
	// the replay's start.
	Replay func(s *Session, live *http.Request, steps int, took time.Duration, err error)
}

// Cleanup registers fn to run when the session ends, however it ends
// (ASP's RegisterCleanup): the application returned or panicked, the
// session was reaped or evicted, the server shut down, or the session did
// not answer in time. Cleanups run once, last registered first, after the
// session has stopped taking requests, on the session goroutine (on the
// goroutine that ended it, for EndUnresponsive, while the application may
// still be running); context.Cause(s.Context()) tells why. A panic in fn is
// recovered and logged.
//
// While the flow is being replayed (request.Request.IsReplaying), Cleanup
// does nothing: the cleanups the replayed steps register were registered
// when those steps first ran, and stand.
func (s *Session) Cleanup(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replaying {
		return
	}
	m := s.moreLocked()
	m.cleanups = append(m.cleanups, fn)
}

// Cleanup registers fn to run when the session ends; see [Session.Cleanup].
func (r *Handle) Cleanup(fn func()) { r.s.Cleanup(fn) }

// runCleanups runs the registered cleanups, last first.
func (s *Session) runCleanups() {
	s.mu.Lock()
	var fns []func()
	if s.more != nil {
		fns, s.more.cleanups = s.more.cleanups, nil
	}
	s.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		s.contain("cleanup", fns[i])
	}
}

// contain runs fn, recovering and logging a panic in it.
func (s *Session) contain(what string, fn func()) {
	defer func() {
		if v := recover(); v != nil && s.logger != nil {
			s.logger.Error("continuity: panic in "+what, "session", s.logID, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// lockOut locks ex for output, first running the BeforeCommit hook if the
// response head is still unsent. The state is read under ex.mu: the
// handler goroutine moves it to abandoned when the client goes. The hook
// runs unlocked, so it may itself write; committing stops it recursing.
func (r *Handle) lockOut(ex *exchange) {
	ex.mu.Lock()
	if h := r.s.hooks; h != nil && h.BeforeCommit != nil && !ex.wroteHeader && !r.committing && ex.state == exTaken {
		ex.mu.Unlock()
		r.committing = true
		r.s.contain("BeforeCommit hook", func() { h.BeforeCommit(r) })
		r.committing = false
		ex.mu.Lock()
	}
}
