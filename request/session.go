package request

import (
	"context"
	"time"

	"github.com/continuity-go/continuity/internal/handoff"
)

// A Session is what an application, a hook or a feature package sees of a
// browser's session: its context, its identity for logs, its age, a small
// store of values and its cleanups. The server creates and runs sessions;
// reach one through [Request.Session] or the server's session hooks. Its
// methods are safe for concurrent use.
type Session handoff.Session

func (s *Session) h() *handoff.Session { return (*handoff.Session)(s) }

// Context is cancelled when the session ends; [context.Cause] of it is the
// reason (one of the End* errors).
func (s *Session) Context() context.Context { return s.h().Context() }

// LogID identifies the session in logs and metrics: a keyed hash of the
// session's key, stable for its life, never the session ID itself.
func (s *Session) LogID() string { return s.h().LogID() }

// Created is when the session was created.
func (s *Session) Created() time.Time { return s.h().Created() }

// LastSeen is when a request for the session last completed (or when it was
// created).
func (s *Session) LastSeen() time.Time { return s.h().LastSeen() }

// Path is the URL path of the request most recently delivered to the
// session.
func (s *Session) Path() string { return s.h().Path() }

// Value returns the value stored under key by [Session.SetValue], or nil.
// Feature packages (progress meters, for instance) keep per-session state
// here under unexported key types; so may applications, as with
// [context.Context] values.
func (s *Session) Value(key any) any { return s.h().Value(key) }

// ValueOrSet returns the session's value under key, first storing make()
// there if it has none: an atomic get-or-create. make runs with the
// session's lock held, so it must not call the session's methods.
func (s *Session) ValueOrSet(key any, make func() any) any { return s.h().ValueOrSet(key, make) }

// SetValue stores v under key for the life of the session. A nil v deletes
// the key.
func (s *Session) SetValue(key, v any) { s.h().SetValue(key, v) }

// Cleanup registers fn to run when the session ends, however it ends
// (ASP's RegisterCleanup): the application returned or panicked, the
// session was reaped or evicted, the server shut down, or the session did
// not answer in time. Cleanups run once, last registered first, after the
// session has stopped taking requests, on the session goroutine (on the
// goroutine that ended it, for EndUnresponsive, while the application may
// still be running); context.Cause(s.Context()) tells why. A panic in fn is
// recovered and logged.
//
// While the flow is being replayed ([Request.IsReplaying]), Cleanup does
// nothing: the replayed steps' cleanups were registered when those steps
// first ran, and stand. So a cleanup must not depend on state that only
// the run that registered it has: clean up what [Once] recorded.
func (s *Session) Cleanup(fn func()) { s.h().Cleanup(fn) }
