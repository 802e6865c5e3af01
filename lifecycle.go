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
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.mapper.Len() > 0 {
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

// stop runs the application's OnStop hook, once.
func (s *Server) stop() {
	s.stopOnce.Do(func() {
		if s.opts.OnStop != nil {
			s.contain("OnStop hook", s.opts.OnStop)
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
