package continuity

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"
)

var (
	errDraining    = errors.New("continuity: draining: no new sessions")
	errRateLimited = errors.New("continuity: too many new sessions from this address")
)

// admit is asked by the mapper before a request starts a new session;
// client is the client's address as the mapper resolves it (through
// TrustedProxies).
func (s *Server) admit(_ *http.Request, client netip.Addr) error {
	if s.draining.Load() {
		return errDraining
	}
	if s.limiter != nil && !s.limiter.allow(client) {
		return errRateLimited
	}
	return nil
}

// Drain stops the server creating sessions, so that a node can leave a
// load balancer without cutting anybody off: new browsers get 503 with
// Retry-After (or a redirect to Options.DrainRedirect), while existing
// sessions carry on. Drain returns nil once every session has ended, or
// ctx's error when ctx is done first; the server goes on draining either
// way until [Server.Resume]. A rolling deploy calls Drain with a deadline,
// then Shutdown.
//
// With a shared journal (Options.Journal a [journal.Leaser]), Drain hands
// every session off instead of waiting for it to end: each ends after its
// current step (at once if it waits in Next), keeping its journal and
// releasing its lease, so that its next request, sent elsewhere by the
// load balancer, is taken over by another node without waiting.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	s.handOff()
	return s.waitSessions(ctx)
}

// waitSessions waits until no session is left, or ctx is done.
func (s *Server) waitSessions(ctx context.Context) error {
	return waitUntil(ctx, func() bool { return s.mapper.Len() == 0 })
}

// waitUntil waits until done reports true, looking every 10ms, or ctx is
// done.
func waitUntil(ctx context.Context, done func() bool) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Resume undoes [Server.Drain]: new sessions are accepted again.
func (s *Server) Resume() { s.draining.Store(false) }

// Draining reports whether the server refuses new sessions.
func (s *Server) Draining() bool { return s.draining.Load() }

// Hooks are the lifecycle callbacks of [Options.Hooks], each optional
// (ASP's global.asa events). A panic in a hook is recovered and logged; it
// never ends the session or the server. Per-session resources are better
// released with [Session.Cleanup], which runs however the session ends.
type Hooks struct {
	// ServerStart runs once, in [New], after the options are accepted:
	// open what the sessions share (a database pool).
	ServerStart func()
	// ServerStop runs once when the server stops: in [Server.Shutdown]
	// after every session has ended and its hooks have run, in
	// [Server.Close] at once. Close what ServerStart opened.
	ServerStop func()
	// SessionStart runs on a new session's goroutine, before the
	// application function. If the browser's previous session is still
	// ending, it runs after that session's SessionEnd.
	SessionStart func(s *Session)
	// SessionEnd runs once when the session has ended, after its cleanups
	// and before requests queued for it go to a new session, on the
	// session goroutine (for EndUnresponsive, on the goroutine that found
	// the session stuck). reason is one of the End* errors: EndReturned,
	// EndIdle, EndLifetime, EndEvicted, EndShutdown, EndPanic or
	// EndUnresponsive.
	SessionEnd func(s *Session, reason error)
	// RequestStart runs on the session goroutine when the session takes a
	// request, before the application sees it.
	RequestStart func(r *Request)
	// RequestEnd runs when the session is done with a request (at Next,
	// End, or when the application returns), while it is still in hand.
	RequestEnd func(r *Request)
	// BeforeCommit runs just before a response's status and headers are
	// sent: the last moment to change them.
	BeforeCommit func(r *Request)
}

// stop runs the ServerStop hook, once.
func (s *Server) stop() {
	s.stopOnce.Do(func() {
		if f := s.opts.Hooks.ServerStop; f != nil {
			s.contain("ServerStop hook", f)
		}
	})
}

// contain runs fn, recovering and logging a panic in it.
func (s *Server) contain(what string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			s.logger.Error("continuity: panic in "+what, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	fn()
}
