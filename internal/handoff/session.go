package handoff

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a [Session]. The mapper fills them in; applications
// normally never build a Session themselves.
type Options struct {
	// App is the session's entry point. It runs on the session goroutine.
	App func(*Handle)

	// QueueDepth is how many requests may wait for the session while it is
	// busy. Zero means 16.
	QueueDepth int

	// NoImplicitFirstNext starts App with no request in hand; App must call
	// Next before it can read input or write output. By default App starts
	// with the session's first request already delivered (Perl Continuity's
	// implicit_first_next).
	NoImplicitFirstNext bool

	// Logger receives the session's lifecycle events and panics. Nil
	// discards them.
	Logger *slog.Logger

	// LogID identifies the session in logs. It must not be the session ID
	// itself; the mapper passes a keyed hash of it.
	LogID string

	// Token is the signed session token, for applications that carry the
	// session in a query parameter (see [Handle.SessionToken]). It is
	// empty in other modes: a cookie's value must never reach the app.
	Token string

	// QueryParam names the parameter that carries Token in ByQuery mode;
	// the links and buttons the session generates carry it too, so that
	// following them keeps the session. Empty in other modes. The mapper
	// sets it.
	QueryParam string

	// Renew, if set, gives the session a new ID for [Handle.RenewID]: it
	// invalidates the old ID and returns the new token (ByQuery mode) or
	// the cookie to send (cookie modes). r is the request in hand. The
	// mapper sets it; in modes without an ID it returns an error.
	Renew func(r *http.Request) (token string, cookie *http.Cookie, err error)

	// Hooks, if set, are the lifecycle callbacks; see [Hooks].
	Hooks *Hooks

	// Shared holds read-only values every session of a server sees through
	// [Session.Value] (a session's own values shadow them): a server shares
	// its feature handlers this way instead of attaching them to each
	// session. It must not be modified once sessions exist.
	Shared map[any]any

	// Clock, if set, is read instead of the system clock for the session's
	// last-seen time: an owner with many sessions keeps one coarse clock
	// rather than reading the time on every request. It holds nanoseconds
	// since Epoch, measured on the monotonic clock, so that a wall-clock
	// jump moves no session's idle time.
	Clock *atomic.Int64
	// Epoch is the origin of Clock; it must carry a monotonic reading (come
	// from time.Now). Ignored when Clock is nil.
	Epoch time.Time

	// OnEnd, if set, runs on the session goroutine after the session has
	// stopped accepting requests and before requests still queued for it are
	// handed back to be mapped again. reason is one of the End* errors.
	OnEnd func(s *Session, reason error)
}

// Timeouts bound how long [Session.Serve] waits.
type Timeouts struct {
	// Queue bounds the wait for the session to take the request while it is
	// busy with earlier ones. Zero means no bound.
	Queue time.Duration
	// Response bounds the wait, once the session has taken the request, for
	// it to start the response. Once the response has started (the session
	// wrote or flushed), the session owns its length: streams may run long.
	// Zero means no bound.
	Response time.Duration
}

// A Session is the hand-off point between the HTTP handlers that receive a
// browser's requests and the one goroutine that runs the application for
// that browser. Handlers call [Session.Serve]; the goroutine runs
// [Session.Run]. At most one request is handled at a time; the rest wait in
// a bounded queue, in arrival order.
type Session struct {
	app        func(*Handle)
	noImplicit bool
	logger     *slog.Logger
	logID      string
	token      string // changed by RenewID, on the session goroutine
	renew      func(*http.Request) (string, *http.Cookie, error)
	queryParam string
	onEnd      func(*Session, error)
	clock      *atomic.Int64
	epoch      time.Time // origin of clock and lastSeen (monotonic)
	hooks      *Hooks
	shared     map[any]any
	created    time.Time

	ctx    context.Context
	cancel context.CancelCauseFunc
	inbox  chan *exchange

	waiting  atomic.Int32 // handlers inside Serve for this session
	lastSeen atomic.Int64 // nanoseconds since epoch when a handler last left Serve

	mu       sync.Mutex
	closed   bool
	values   map[any]any
	bell     chan struct{} // made by arrived, closed by the next deliver
	path     string        // of the last request delivered, for admin listings
	cleanups []func()
}

// NewSession returns a session whose context is derived from parent: when
// parent is cancelled the session ends. The caller must run [Session.Run] on
// a goroutine it owns.
func NewSession(parent context.Context, opts Options) *Session {
	q := opts.QueueDepth
	if q <= 0 {
		q = 16
	}
	ctx, cancel := context.WithCancelCause(parent)
	now := time.Now()
	epoch := now
	if opts.Clock != nil {
		epoch = opts.Epoch
	}
	s := &Session{
		app:        opts.App,
		noImplicit: opts.NoImplicitFirstNext,
		logger:     opts.Logger,
		logID:      opts.LogID,
		token:      opts.Token,
		renew:      opts.Renew,
		queryParam: opts.QueryParam,
		onEnd:      opts.OnEnd,
		clock:      opts.Clock,
		epoch:      epoch,
		hooks:      opts.Hooks,
		shared:     opts.Shared,
		created:    now,
		ctx:        ctx,
		cancel:     cancel,
		inbox:      make(chan *exchange, q),
	}
	s.lastSeen.Store(int64(now.Sub(epoch)))
	return s
}

// now is the time in nanoseconds since s.epoch, on the monotonic clock.
func (s *Session) now() int64 {
	if s.clock != nil {
		return s.clock.Load()
	}
	return int64(time.Since(s.epoch))
}

// Context is cancelled when the session ends; its cause is the reason.
func (s *Session) Context() context.Context { return s.ctx }

// LogID is the session's identifier for logs and metrics: a keyed hash, never
// the session ID.
func (s *Session) LogID() string { return s.logID }

// Created is when the session was created.
func (s *Session) Created() time.Time { return s.created }

// LastSeen is when a request for the session last completed (or when it was
// created).
func (s *Session) LastSeen() time.Time { return s.epoch.Add(time.Duration(s.lastSeen.Load())) }

// Busy reports whether a request for the session is being handled or waits
// in its queue.
func (s *Session) Busy() bool { return s.waiting.Load() > 0 }

// Queued is the number of requests for the session that are being handled
// or are waiting.
func (s *Session) Queued() int { return int(s.waiting.Load()) }

// Close ends the session with the given reason: the session's context is
// cancelled, [Handle.Next] ends the goroutine, and requests still queued
// are handed back. Close does not wait; it is safe to call more than once
// and from any goroutine.
func (s *Session) Close(reason error) { s.cancel(reason) }

// Closed reports whether the session has stopped accepting requests.
func (s *Session) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.ctx.Err() != nil
}

// Value returns the value stored under key by [Session.SetValue], or nil.
// Feature packages (progress meters, for instance) keep per-session state
// here under unexported key types.
func (s *Session) Value(key any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.values[key]; ok {
		return v
	}
	return s.shared[key]
}

// ValueOrSet returns the session's own value under key, first storing
// make() there if it has none: an atomic get-or-create. make runs with the
// session's lock held, so it must not call the session's methods.
func (s *Session) ValueOrSet(key any, make func() any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.values[key]; ok {
		return v
	}
	v := make()
	if s.values == nil {
		s.values = map[any]any{}
	}
	s.values[key] = v
	return v
}

// SetValue stores v under key for the life of the session. A nil v deletes
// the key.
func (s *Session) SetValue(key, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		delete(s.values, key)
		return
	}
	if s.values == nil {
		s.values = make(map[any]any)
	}
	s.values[key] = v
}

// deliver queues ex without blocking.
func (s *Session) deliver(ex *exchange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	s.path = ex.r.URL.Path
	select {
	case s.inbox <- ex:
		if s.bell != nil {
			close(s.bell)
			s.bell = nil
		}
		return nil
	default:
		return ErrQueueFull
	}
}

// Outcome is how [Session.Handle] disposed of a request.
type Outcome uint8

// Outcomes of [Session.Handle].
const (
	Served          Outcome = iota // the session answered (or streamed)
	Retry                          // the session ended before taking it: map it again
	QueueFull                      // 503: the session's queue was full
	QueueTimeout                   // 503: the session stayed busy too long
	ResponseTimeout                // 503: the session took it but did not answer in time
	ClientGone                     // the client went away first
	Panicked                       // the application panicked handling it
)

// Serve is [Session.Handle] reporting only whether to retry: it reports
// retry when the session ended before taking the request, and the caller
// should map the request again (to a new session).
func (s *Session) Serve(w http.ResponseWriter, r *http.Request, t Timeouts) (retry bool) {
	return s.Handle(w, r, t) == Retry
}

// Handle hands the request to the session and blocks until the session has
// answered it, the client has gone, or a timeout in t expires. It writes
// the error responses itself: 503 with Retry-After when the queue is full or
// the wait times out, 500 when the application panicked before writing.
//
// Handle returns [Retry] when the session ended before taking the request;
// the caller should map the request again (to a new session). If the
// application panicked with [http.ErrAbortHandler], Serve re-panics with it
// on the caller's goroutine so net/http aborts the connection.
func (s *Session) Handle(w http.ResponseWriter, r *http.Request, t Timeouts) Outcome {
	s.waiting.Add(1)
	defer func() {
		s.lastSeen.Store(s.now())
		s.waiting.Add(-1)
	}()
	ex := newExchange(w, r)
	switch err := s.deliver(ex); {
	case errors.Is(err, ErrSessionClosed):
		return Retry
	case err != nil:
		unavailable(w, "session busy: too many requests queued")
		return QueueFull
	}

	// One timer serves both bounds. While the request is queued it ticks
	// every step (an eighth of the response bound, or the queue bound if
	// nearer); the first tick that sees the request taken starts the
	// response bound, so that bound is never cut short by time spent
	// queued and runs late by at most one step. Elapsed time is the sum
	// of the periods armed, so the common path, answered before any
	// timer fires, never reads the clock.
	var timer *time.Timer
	var timeout <-chan time.Time
	step := t.Response / 8
	if t.Response > 0 && step <= 0 {
		step = t.Response
	}
	var elapsed, armed time.Duration
	takenSeen := time.Duration(-1)
	if armed = minPositive(t.Queue, step); armed > 0 {
		timer = time.NewTimer(armed)
		defer timer.Stop()
		timeout = timer.C
	}
	rearm := func(d time.Duration) {
		armed = d
		timer.Reset(d)
	}
	for {
		select {
		case <-ex.done:
			return s.settle(ex)
		case <-r.Context().Done():
			ex.mu.Lock()
			prev := ex.abandonLocked()
			ex.mu.Unlock()
			if prev == exFinished {
				return s.settle(ex)
			}
			return ClientGone // nobody is listening; nothing to write
		case <-timeout:
			elapsed += armed
			ex.mu.Lock()
			switch ex.state {
			case exFinished:
				ex.mu.Unlock()
				return s.settle(ex)
			case exQueued:
				if t.Queue <= 0 || elapsed < t.Queue {
					ex.mu.Unlock()
					next := step
					if t.Queue > 0 {
						next = minPositive(t.Queue-elapsed, step)
					}
					rearm(next)
					continue
				}
				ex.abandonLocked()
				ex.mu.Unlock()
				unavailable(w, "session busy: timed out waiting for earlier requests")
				return QueueTimeout
			}
			// Taken by the session.
			if ex.wroteHeader || t.Response <= 0 {
				ex.mu.Unlock()
				timeout = nil // the session owns the response from here
				continue
			}
			if takenSeen < 0 {
				takenSeen = elapsed // the take happened in the last step
			}
			if left := t.Response - (elapsed - takenSeen); left > 0 {
				ex.mu.Unlock()
				rearm(left)
				continue
			}
			ex.abandonLocked()
			ex.mu.Unlock()
			if s.logger != nil {
				s.logger.Warn("continuity: session did not answer in time", "session", s.logID, "timeout", t.Response)
			}
			http.Error(w, "503 service unavailable: the application did not answer in time", http.StatusServiceUnavailable)
			return ResponseTimeout
		}
	}
}

// settle acts on a finished exchange's outcome; it runs on the handler
// goroutine after ex.done has fired, which orders it after every write the
// session made.
func (s *Session) settle(ex *exchange) Outcome {
	o, wrote, w := ex.outcome, ex.wroteHeader, ex.w
	ex.recycle()
	switch o {
	case outRetry:
		return Retry
	case outPanic:
		if !wrote {
			http.Error(w, "500 internal server error", http.StatusInternalServerError)
		}
		return Panicked
	case outAbort:
		panic(http.ErrAbortHandler)
	}
	return Served
}

func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0 || a < b:
		return a
	}
	return b
}

func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "503 service unavailable: "+msg, http.StatusServiceUnavailable)
}

// Run runs the application for this session and returns when it has
// finished, for whatever reason. It recovers a panic in the application:
// the request in hand is answered 500 (unless its response had started) and
// the panic is logged with its stack.
func (s *Session) Run() {
	r := &Handle{s: s}
	if s.logger != nil {
		s.logger.Debug("continuity: session start", "session", s.logID)
	}
	if h := s.hooks; h != nil && h.SessionStart != nil {
		s.contain("SessionStart hook", func() { h.SessionStart(s) })
	}
	defer func() {
		v := recover()
		var reason error
		switch {
		case v == nil:
			r.finish(outServed)
			if err := s.ctx.Err(); err != nil {
				reason = context.Cause(s.ctx)
			} else {
				reason = EndReturned
			}
		case v == http.ErrAbortHandler:
			r.finish(outAbort)
			reason = EndPanic
		default:
			if s.logger != nil {
				s.logger.Error("continuity: panic in session", "session", s.logID, "panic", v, "stack", string(debug.Stack()))
			}
			r.finish(outPanic)
			reason = EndPanic
		}
		s.end(reason)
	}()
	if !s.noImplicit {
		if err := r.wait(); err != nil {
			return
		}
	}
	s.app(r)
}

// end stops the session accepting requests and hands back the ones queued.
func (s *Session) end(reason error) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel(reason)
	if s.logger != nil {
		s.logger.Debug("continuity: session end", "session", s.logID, "reason", reason.Error())
	}
	if s.onEnd != nil {
		s.onEnd(s, reason)
	}
	for {
		select {
		case ex := <-s.inbox:
			ex.giveBack()
			continue
		default:
		}
		break
	}
	s.runCleanups()
	if h := s.hooks; h != nil && h.SessionEnd != nil {
		s.contain("SessionEnd hook", func() { h.SessionEnd(s, reason) })
	}
}

// Path is the URL path of the request most recently delivered to the
// session.
func (s *Session) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}
