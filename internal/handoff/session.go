package handoff

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
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

	// MaxQueuedBytes bounds the bytes that the bodies of requests waiting
	// for the session may hold, beyond the first of them: a request that
	// would pass it is refused with 503. Zero means no bound.
	MaxQueuedBytes int64

	// Budget, if set, bounds the bytes that the bodies of requests waiting
	// for any of the sessions sharing it may hold; a request that would
	// pass it is refused with 503. A server's sessions share one.
	Budget *ByteBudget

	// Pool recycles the sessions' exchanges; a server's sessions share
	// one. Nil gives the session a pool of its own.
	Pool *Pool

	// Predecessor, if set, is the Ended channel of the session this one
	// follows (the browser's previous session, still ending): the new
	// session waits for it before its SessionStart hook and its first
	// request, so that the old session's end comes first.
	Predecessor <-chan struct{}

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

	// Renew, if set, gives session s a new ID for [Handle.RenewID]: it
	// invalidates the old ID and returns the new token (ByQuery mode) or
	// the cookie to send (cookie modes). r is the request in hand. The
	// mapper sets it; in modes without an ID it returns an error.
	Renew func(s *Session, r *http.Request) (token string, cookie *http.Cookie, err error)

	// Owner is the owner's record of the session, which its callbacks
	// (Renew, OnEnd) find through [Session.Owner], so that they can be
	// shared by every session rather than made for each. The mapper sets
	// it; a branch of a forked tab has its root session's.
	Owner any

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

	// Replay, if set, configures step tokens, the journal and replay (see
	// [Replay]); a server's sessions share one. Nil means the defaults: the
	// Reject policy, a private in-memory journal with the default caps, a
	// random token key and no replay time limit.
	Replay *Replay

	// OnEnd, if set, runs when the session has ended, after its cleanups
	// and its SessionEnd hook and before requests still queued for it are
	// handed back to be mapped again. reason is one of the End* errors. It
	// runs once, on the session goroutine, or on a handler's goroutine
	// when the session is ended for not answering (EndUnresponsive).
	OnEnd func(s *Session, reason error)

	// Owned, if set, makes the session one of a deployment's shared
	// sessions (owned.go): journaled from its first step under a lease,
	// and, for a takeover, rebuilt from the journal first.
	Owned *Owned
}

// Timeouts bound how long [Session.Handle] waits, and how long the
// session's writes may block.
type Timeouts struct {
	// Queue bounds the wait, from the request's arrival, for the session
	// to take it while it is busy with earlier ones. Zero means no bound.
	Queue time.Duration
	// Response bounds the wait, from the moment the session takes the
	// request, for it to start the response. Once the response has started
	// (the session wrote or flushed), the session owns its length: streams
	// may run long. A session that does not start it in time is ended
	// (EndUnresponsive). Zero means no bound.
	Response time.Duration
	// Write bounds each write of the session's response to the connection:
	// a write that cannot go through in time fails (the client stopped
	// reading). Zero means no bound.
	Write time.Duration
}

// A ByteBudget bounds the bytes that requests queued for a set of sessions
// may hold. It is safe for concurrent use.
type ByteBudget struct {
	max  int64
	used atomic.Int64
}

// NewByteBudget returns a budget of max bytes.
func NewByteBudget(max int64) *ByteBudget { return &ByteBudget{max: max} }

// Used is the number of bytes queued requests hold now.
func (b *ByteBudget) Used() int64 { return b.used.Load() }

func (b *ByteBudget) take(n int64) bool {
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

// A Session is the hand-off point between the HTTP handlers that receive a
// browser's requests and the one goroutine that runs the application for
// that browser. Handlers call [Session.Handle]; the goroutine runs
// [Session.Run]. At most one request is handled at a time; the rest wait in
// a bounded queue, in arrival order.
//
// There is one per browser, parked sessions included, so its layout is
// kept small: what every session of an owner shares is in its template.
type Session struct {
	*template
	logID   string
	token   string // changed by RenewID, on the session goroutine
	owner   any
	created int64 // nanoseconds since epoch, on the monotonic clock
	pred    <-chan struct{}
	owned   *Owned

	// j is the session's journal state, made when the flow first asks for
	// a step token or makes a journaled call (most sessions never do: they
	// pay for this pointer and nothing else). The session goroutine owns
	// what it points to; handlers read only its immutable family, to route
	// a forked tab's requests.
	j atomic.Pointer[journalState]

	// The session's context is made when first asked for, and few
	// sessions are asked: until then the session is cancelled by setting
	// its cause (in more) and the cancelled flag. A session goroutine
	// waiting in Next waits on wakeup alone (see Handle.wait), which a
	// request or the session's cancellation signals. (A context of its own,
	// registered with a cancellable parent, its Done channel, a wake
	// channel and the parked select's second waiter cost every parked
	// session some 400 bytes.)
	cx     atomic.Pointer[sessionContext] // the context, once made
	wakeup sync.Cond                      // on mu: a request was queued, or the session cancelled

	leaving   atomic.Bool  // hand the session off before its next step
	closedA   atomic.Bool  // closed, for Closed without the lock
	cancelled atomic.Bool  // more.cause is set
	waiting   atomic.Int32 // handlers inside Handle for this session
	lastSeen  atomic.Int64 // nanoseconds since epoch when a handler last left Handle

	mu          sync.Mutex
	closed      bool         // no more requests are queued; also in closedA
	ending      bool         // end has begun (it runs once)
	endDone     bool         // end has run
	replaying   bool         // a replay runs: the flow's cleanups are registered already
	idle        bool         // the session goroutine waits in Next for a request
	queue       []*exchange  // waiting requests, oldest first; only queued ones
	queuedBytes int64        // what their bodies hold
	path        string       // of the last request delivered, for admin listings
	more        *sessionMore // what few sessions use, made on first use

	// h is the handle of the session's first run, allocated with the
	// session: one object per session rather than two. A replay's run
	// gets a Handle of its own.
	h Handle
}

// template is the part of a session that every session made from the same
// [Template] shares.
type template struct {
	app        func(*Handle)
	noImplicit bool
	logger     *slog.Logger
	renew      func(*Session, *http.Request) (string, *http.Cookie, error)
	queryParam string
	onEnd      func(*Session, error)
	clock      *atomic.Int64
	epoch      time.Time // origin of clock and lastSeen (monotonic)
	hooks      *Hooks
	shared     map[any]any
	depth      int
	maxQueued  int64
	budget     *ByteBudget
	pool       *Pool
	replay     *Replay
}

// A Template holds what the sessions of one owner share: every field of
// [Options] except LogID, Token, Predecessor, Owner and Owned. An owner
// of many sessions makes one and makes its sessions from it, so that each
// session holds a pointer to these rather than a copy.
type Template struct{ t *template }

// NewTemplate returns a template with the shared fields of opts.
func NewTemplate(opts Options) Template {
	t := &template{
		app:        opts.App,
		noImplicit: opts.NoImplicitFirstNext,
		logger:     opts.Logger,
		renew:      opts.Renew,
		queryParam: opts.QueryParam,
		onEnd:      opts.OnEnd,
		clock:      opts.Clock,
		epoch:      time.Now(),
		hooks:      opts.Hooks,
		shared:     opts.Shared,
		depth:      opts.QueueDepth,
		maxQueued:  opts.MaxQueuedBytes,
		budget:     opts.Budget,
		pool:       opts.Pool,
		replay:     opts.Replay,
	}
	if t.depth <= 0 {
		t.depth = 16
	}
	if t.pool == nil {
		t.pool = NewPool()
	}
	if t.clock != nil {
		t.epoch = opts.Epoch
	}
	return Template{t}
}

// NewSession returns a session whose context is derived from parent: when
// parent is cancelled the session ends. The caller must run [Session.Run] on
// a goroutine it owns.
//
// An owner of many sessions should pass [context.Background] and close its
// sessions itself: any other parent costs each session a context of its
// own from the start (see [Template.NewSession]).
func NewSession(parent context.Context, opts Options) *Session {
	return NewTemplate(opts).NewSession(parent, opts)
}

// NewSession returns a session made from t, whose context is derived from
// parent, as the package's NewSession does. Only the per-session fields of
// opts are read: LogID, Token, Predecessor, Owner and Owned.
//
// With parent [context.Background] the session's context is made only
// when first asked for; any other parent (one that can be cancelled, or
// carries values) gives the session its context at once, derived from
// parent, and the parent's end ends the session.
func (t Template) NewSession(parent context.Context, opts Options) *Session {
	now := int64(time.Since(t.t.epoch))
	s := &Session{
		template: t.t,
		logID:    opts.LogID,
		token:    opts.Token,
		owner:    opts.Owner,
		created:  now,
		pred:     opts.Predecessor,
		owned:    opts.Owned,
	}
	s.h.s = s
	s.wakeup.L = &s.mu
	s.lastSeen.Store(now)
	if parent != context.Background() {
		ctx, cancel := context.WithCancelCause(parent)
		s.cx.Store(&sessionContext{ctx, cancel})
		if parent.Done() != nil {
			// The parent's end must reach a session goroutine parked in
			// Next: through cancel.
			context.AfterFunc(ctx, func() { s.cancel(context.Cause(ctx)) })
		}
	}
	return s
}

// sessionMore holds the parts of a session that few sessions use, under
// the session's mu: kept out of Session, they would cost every parked
// session their room.
type sessionMore struct {
	cause    error         // why the session was cancelled
	ended    chan struct{} // made by Ended, closed when end has run
	values   map[any]any
	bell     chan struct{} // made by Arrived, closed by the next deliver
	cleanups []func()
}

// moreLocked returns s.more, making it if need be. s.mu must be held.
func (s *Session) moreLocked() *sessionMore {
	if s.more == nil {
		s.more = new(sessionMore)
	}
	return s.more
}

// sessionContext is a session's context, made on demand.
type sessionContext struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// cancel cancels the session with reason (context.Canceled if nil) unless
// it was cancelled already, and wakes its goroutine if it waits in Next or
// for its predecessor. The first reason stays, as with a context.
func (s *Session) cancel(reason error) {
	if reason == nil {
		reason = context.Canceled
	}
	s.mu.Lock()
	if s.cancelled.Load() {
		s.mu.Unlock()
		return
	}
	s.moreLocked().cause = reason
	s.cancelled.Store(true)
	s.wakeup.Broadcast()
	s.mu.Unlock()
	// A context made after the unlock is made cancelled (see Context).
	if cx := s.cx.Load(); cx != nil {
		cx.cancel(reason)
	}
}

// isCancelled reports whether the session has been cancelled: by cancel,
// or by its parent (whose end reaches cancel a moment later, through an
// AfterFunc).
func (s *Session) isCancelled() bool {
	if s.cancelled.Load() {
		return true
	}
	cx := s.cx.Load()
	return cx != nil && cx.ctx.Err() != nil
}

// causeOf is why the session was cancelled, or nil: its context's cause,
// if the context has been made and cancelled, so that the session and its
// context never disagree.
func (s *Session) causeOf() error {
	if cx := s.cx.Load(); cx != nil && cx.ctx.Err() != nil {
		return context.Cause(cx.ctx)
	}
	if !s.cancelled.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.more.cause
}

// now is the time in nanoseconds since s.epoch, on the monotonic clock.
func (s *Session) now() int64 {
	if s.clock != nil {
		return s.clock.Load()
	}
	return int64(time.Since(s.epoch))
}

// Context is cancelled when the session ends; its cause is the reason. It
// is made on the first call (made after the session ended, it is cancelled
// already, with the same cause).
func (s *Session) Context() context.Context {
	if cx := s.cx.Load(); cx != nil {
		return cx.ctx
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cx := s.cx.Load(); cx != nil {
		return cx.ctx
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	if s.cancelled.Load() {
		cancel(s.more.cause)
	}
	s.cx.Store(&sessionContext{ctx, cancel})
	return ctx
}

// Owner is the record that the session's owner gave it in
// [Options.Owner].
func (s *Session) Owner() any { return s.owner }

// LogID is the session's identifier for logs and metrics: a keyed hash, never
// the session ID.
func (s *Session) LogID() string { return s.logID }

// Created is when the session was created.
func (s *Session) Created() time.Time { return s.epoch.Add(time.Duration(s.created)) }

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

// Ended returns a channel that is closed once the session has ended: its
// cleanups and its SessionEnd hook have run. (It is made on demand: few
// sessions are ever asked.)
func (s *Session) Ended() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.moreLocked()
	if m.ended == nil {
		m.ended = make(chan struct{})
		if s.endDone {
			close(m.ended)
		}
	}
	return m.ended
}

// Closed reports whether the session has stopped accepting requests.
// It takes no lock: the mapper asks under its table's lock, on every
// request.
func (s *Session) Closed() bool {
	return s.closedA.Load() || s.isCancelled()
}

// Value returns the value stored under key by [Session.SetValue], or nil.
// Feature packages (progress meters, for instance) keep per-session state
// here under unexported key types.
func (s *Session) Value(key any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.more != nil {
		if v, ok := s.more.values[key]; ok {
			return v
		}
	}
	return s.shared[key]
}

// ValueOrSet returns the session's own value under key, first storing
// make() there if it has none: an atomic get-or-create. make runs with the
// session's lock held, so it must not call the session's methods.
func (s *Session) ValueOrSet(key any, make func() any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.moreLocked()
	if v, ok := m.values[key]; ok {
		return v
	}
	v := make()
	if m.values == nil {
		m.values = map[any]any{}
	}
	m.values[key] = v
	return v
}

// SetValue stores v under key for the life of the session. A nil v deletes
// the key.
func (s *Session) SetValue(key, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		if s.more != nil {
			delete(s.more.values, key)
		}
		return
	}
	m := s.moreLocked()
	if m.values == nil {
		m.values = make(map[any]any)
	}
	m.values[key] = v
}

// deliver queues ex without blocking, within the session's bounds, and
// starts its queue bound: from its arrival until the take. A request that
// finds the session idle in Next, with nothing queued before it, is taken
// at once and needs no queue timer (the hot path).
func (s *Session) deliver(ex *exchange, queue time.Duration) (queueArmed bool, err error) {
	if queueArmed, err = s.enqueue(ex, queue); err != nil {
		return false, err
	}
	// Wake the session if it waits in Handle.wait.
	s.wakeup.Broadcast()
	return queueArmed, nil
}

func (s *Session) enqueue(ex *exchange, queue time.Duration) (queueArmed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrSessionClosed
	}
	if len(s.queue) >= s.depth {
		return false, ErrQueueFull
	}
	if n := ex.bytes; n > 0 {
		if s.maxQueued > 0 && s.queuedBytes > 0 && s.queuedBytes+n > s.maxQueued {
			return false, errQueueBytes
		}
		if s.budget != nil && !s.budget.take(n) {
			return false, errBudget
		}
		s.queuedBytes += n
	}
	if s.idle && len(s.queue) == 0 {
		// The session waits in Next and takes the request now: the
		// response bound starts now, armed here on the handler's side,
		// and there is no wait in the queue to bound (the hot path).
		ex.armResponse()
	} else if queue > 0 {
		ex.queueT.Reset(queue)
		ex.queueArmed, queueArmed = true, true
	}
	if p := ex.r.URL.Path; p != s.path {
		// A copy: the path may be a slice of the request line, query
		// included, which a parked session would otherwise keep.
		s.path = strings.Clone(p)
	}
	s.queue = append(s.queue, ex)
	if m := s.more; m != nil && m.bell != nil {
		close(m.bell)
		m.bell = nil
	}
	return queueArmed, nil
}

// removeLocked takes the i'th request off the queue, releasing the bytes
// it held. s.mu must be held.
func (s *Session) removeLocked(i int) *exchange {
	ex := s.queue[i]
	copy(s.queue[i:], s.queue[i+1:])
	s.queue[len(s.queue)-1] = nil
	s.queue = s.queue[:len(s.queue)-1]
	if n := ex.bytes; n > 0 {
		s.queuedBytes -= n
		if s.budget != nil {
			s.budget.used.Add(-n)
		}
	}
	return ex
}

// takeQueued takes the oldest live request off the queue, or returns nil
// when none waits. The response bound starts at the take (see
// exchange.take). Handle.wait has the form of it that parks.
func (s *Session) takeQueued() *exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex := s.takeLocked()
	if ex == nil {
		s.idle = false
	}
	return ex
}

// takeLocked is takeQueued with s.mu held; a taken request makes the
// session busy.
func (s *Session) takeLocked() *exchange {
	for len(s.queue) > 0 {
		if ex := s.removeLocked(0); ex.take() {
			s.idle = false
			return ex
		}
		// Abandoned by its handler, which is taking it off the queue.
	}
	return nil
}

// unqueue takes ex off the queue if it is still there, reporting whether
// it was: then the session never saw it.
func (s *Session) unqueue(ex *exchange) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.queue {
		if q == ex {
			s.removeLocked(i)
			return true
		}
	}
	return false
}

// drop abandons ex for its handler and reports the state it was in. A
// request still queued leaves the queue at once, so that it holds no slot
// and no bytes; if the session never saw it, it goes back to the pool,
// letting go of the request and its parsed body. After drop the handler
// must not touch ex unless drop reported exFinished.
func (s *Session) drop(ex *exchange) exState {
	prev := ex.abandon()
	switch prev {
	case exQueued:
		if s.unqueue(ex) {
			s.pool.put(ex)
		} else {
			ex.stopTimers() // the session is discarding it, without touching them
		}
	case exTaken:
		ex.stopTimers() // the session holds it, and no longer touches them
	}
	return prev
}

// Outcome is how [Session.Handle] disposed of a request.
type Outcome uint8

// Outcomes of [Session.Handle].
const (
	Served          Outcome = iota // the session answered (or streamed)
	Retry                          // the session ended before taking it: map it again
	QueueFull                      // 503: the session's queue, or its bytes, were full
	QueueTimeout                   // 503: the session stayed busy too long
	ResponseTimeout                // 503: the session took it but did not answer in time; it was ended
	ClientGone                     // the client went away first
	Panicked                       // the application panicked before writing: 500
	Aborted                        // the response must be aborted: panic(http.ErrAbortHandler)
)

// Serve is [Session.Handle] reporting only whether to retry: it reports
// retry when the session ended before taking the request, and the caller
// should map the request again (to a new session). It aborts the response
// itself, panicking with [http.ErrAbortHandler], when Handle says so.
func (s *Session) Serve(w http.ResponseWriter, r *http.Request, t Timeouts) (retry bool) {
	o := s.Handle(w, r, t)
	if o == Aborted {
		panic(http.ErrAbortHandler)
	}
	return o == Retry
}

// Handle hands the request to the session and blocks until the session has
// answered it, the client has gone, or a bound in t has passed. It writes
// the error responses itself: 503 with Retry-After when the queue is full
// or the queue bound passes, 503 when the session took the request but did
// not start the response within the response bound (and then it ends the
// session: it is broken), 500 when the application panicked before writing.
//
// Handle returns [Retry] when the session ended before taking the request;
// the caller should map the request again (to a new session). It returns
// [Aborted] when the application panicked after the response had started,
// or with [http.ErrAbortHandler]: the caller must then panic with
// http.ErrAbortHandler on its goroutine, so that net/http aborts the
// connection and the client sees a broken response, not a truncated one.
func (s *Session) Handle(w http.ResponseWriter, r *http.Request, t Timeouts) Outcome {
	s.waiting.Add(1)
	defer func() {
		s.lastSeen.Store(s.now())
		s.waiting.Add(-1)
	}()
	if j := s.j.Load(); j != nil && j.fam.forked.Load() {
		// A forked tab's request goes to its branch; this session stays
		// busy and seen meanwhile, so that it is not reaped or evicted
		// from under the branches it owns.
		if b := j.fam.route(r); b != nil && b != s {
			return b.Handle(w, r, t)
		}
	}
	ex := s.pool.get(w, r, t)
	queued, err := s.deliver(ex, t.Queue)
	if err != nil {
		s.pool.put(ex)
		if err == ErrSessionClosed {
			return Retry
		}
		refused(w, err)
		return QueueFull
	}
	// A bound that is not running has a nil channel, which select skips.
	// The response timer is watched even with no response bound: a
	// session arms it to bound a replay.
	var queueC <-chan time.Time
	if queued {
		queueC = ex.queueT.C
	}
	respC := ex.respT.C
	for {
		select {
		case <-ex.done:
			return s.settle(ex)
		case <-r.Context().Done():
			if s.drop(ex) == exFinished {
				return s.settle(ex)
			}
			return ClientGone // nobody is listening; nothing to write
		case <-queueC:
			if !ex.abandonIf(exQueued) {
				continue // taken meanwhile: the response bound runs now
			}
			if s.unqueue(ex) {
				s.pool.put(ex)
			}
			unavailable(w, "session busy: timed out waiting for earlier requests")
			return QueueTimeout
		case <-respC:
			ok, replaying, holder := ex.abandonUnanswered()
			if !ok {
				continue // finished, or the response has started: the session owns it
			}
			if holder == nil {
				holder = s
			}
			if replaying {
				// The flow did not get back to the live step within the
				// replay bound: it spins or blocks between steps.
				if holder.logger != nil {
					holder.logger.Error("continuity: replay did not reach the live step in time; ending the session", "session", holder.logID)
				}
				http.Error(w, "503 service unavailable: this session could not be restored in time (its replay took too long), so it was ended; reload to start again", http.StatusServiceUnavailable)
				holder.end(EndReplayTimeout)
				return ResponseTimeout
			}
			if holder.logger != nil {
				holder.logger.Warn("continuity: session did not answer in time; ending it", "session", holder.logID, "timeout", t.Response)
			}
			http.Error(w, "503 service unavailable: the application did not answer in time", http.StatusServiceUnavailable)
			holder.end(EndUnresponsive)
			return ResponseTimeout
		}
	}
}

// refused answers a request that the session's queue bounds refused.
func refused(w http.ResponseWriter, err error) {
	switch err {
	case errQueueBytes:
		unavailable(w, "session busy: queued requests hold too many bytes")
	case errBudget:
		unavailable(w, "server busy: queued requests hold too many bytes")
	default:
		unavailable(w, "session busy: too many requests queued")
	}
}

// RefuseUnread answers 503, as Handle would, a request whose body of n
// bytes (-1: of unknown length) the session's queue bounds would refuse
// as they stand, and reports whether it did. The server asks before it
// reads the body, so that a flood of large POSTs at busy sessions costs
// no reading and parsing. It is advisory: Handle enforces the bounds.
// A session with forked tabs is not asked (its branches have queues of
// their own).
func (s *Session) RefuseUnread(w http.ResponseWriter, n int64) bool {
	if j := s.j.Load(); j != nil && j.fam.forked.Load() {
		return false
	}
	err := s.wouldRefuse(n)
	if err == nil {
		return false
	}
	refused(w, err)
	return true
}

func (s *Session) wouldRefuse(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil // mapped anew
	case len(s.queue) >= s.depth:
		return ErrQueueFull
	case n <= 0:
		return nil
	case s.maxQueued > 0 && s.queuedBytes > 0 && s.queuedBytes+n > s.maxQueued:
		return errQueueBytes
	case s.budget != nil && s.budget.Used()+n > s.budget.max:
		return errBudget
	}
	return nil
}

// settle acts on a finished exchange's outcome; it runs on the handler
// goroutine after ex.done has fired, which orders it after every write the
// session made.
func (s *Session) settle(ex *exchange) Outcome {
	o, wrote, w := ex.outcome, ex.wroteHeader, ex.w
	if o == outServed || o == outPanic {
		// What the session wrote goes out; after a panic, so that the
		// abort below breaks a started response, as if it had been sent
		// as it was written.
		ex.sendBuffered()
	}
	s.pool.put(ex)
	switch o {
	case outRetry:
		return Retry
	case outPanic:
		if wrote {
			return Aborted // a clean end would pass the truncated response off as whole
		}
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return Panicked
	case outAbort:
		return Aborted
	}
	return Served
}

func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "503 service unavailable: "+msg, http.StatusServiceUnavailable)
}

// Run runs the application for this session and returns when it has
// finished, for whatever reason. It recovers a panic in the application:
// the request in hand is answered 500 (or aborted, if its response had
// started) and the panic is logged with its stack.
//
// A session may run its application more than once: a replay (a rewound
// or re-shown step) runs it afresh on a new goroutine and ends the old
// run. Run then waits for the last run, and for the forked branches the
// session owns, so that it returns only when nothing of the session is
// left running.
func (s *Session) Run() {
	s.run(nil, true)
}

// start waits for the browser's previous session to end. It and announce
// are functions of their own so that their locals are not in Run's and
// run's frames, which stay on the stack under the application for the
// session's whole life: a goroutine starts with 2 KiB of stack, and one
// that ever needs more keeps twice as much while it waits in Next.
//
//go:noinline
func (s *Session) start() *Handle {
	if s.pred != nil {
		// Few sessions wait for a predecessor: this one pays for its
		// context, to wait on two channels.
		select {
		case <-s.pred: // the browser's previous session has ended
		case <-s.Context().Done():
		}
	}
	return &s.h
}

// announce logs a run's start and runs the SessionStart hook. slog is
// called only when Debug is on: its frame is large (see start).
//
//go:noinline
func (s *Session) announce() {
	if s.logger != nil && s.logger.Enabled(context.Background(), slog.LevelDebug) {
		s.logger.Debug("continuity: session start", "session", s.logID)
	}
	if h := s.hooks; h != nil && h.SessionStart != nil {
		s.contain("SessionStart hook", func() { h.SessionStart(s) })
	}
}

// run runs the application once. The first run of a session (Run's, or a
// branch's) starts it and, if replays replace it, waits for the last of
// them. Run passes no handle: run gets it from start, so that Run is small
// enough to be inlined into the goroutine that calls it, one frame fewer
// on every parked session's stack (see Handle.wait).
func (s *Session) run(r *Handle, first bool) {
	if r == nil {
		r = s.start()
	}
	if first {
		s.announce()
		defer s.waitBranches()
	}
	defer s.afterRun(r, first)
	if first && s.owned != nil {
		s.startOwned(r)
	}
	if !s.noImplicit {
		if err := r.wait(false, false); err != nil {
			return
		}
	}
	s.app(r)
}

// afterRun is the deferred end of a run: the application returned,
// panicked or ended its goroutine. A run that a replay replaced hands
// over to its successor; any other ends the session.
func (s *Session) afterRun(r *Handle, first bool) {
	v := recover()
	if r.dead {
		s.handOver(r, v, first)
		return
	}
	if v == nil && r.rp != nil && !s.isCancelled() {
		r.divergeReturned()
	}
	r.releaseLive(v)
	var reason error
	switch {
	case v == nil:
		r.finish(outServed)
		if reason = s.causeOf(); reason == nil {
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
	if j := s.j.Load(); j != nil {
		j.forget()
		if j.runsDone != nil {
			close(j.runsDone) // the first run waits for this, the last
		}
	}
}

// end ends the session, once, on whichever goroutine gets there first (the
// session's own, or a handler's that found it unresponsive): it stops
// taking requests, runs the cleanups and the SessionEnd hook, closes
// Ended, tells the owner (OnEnd), and only then hands back the requests
// still queued, so that the session they go to next starts after this one
// has ended.
func (s *Session) end(reason error) {
	s.mu.Lock()
	if s.ending {
		s.mu.Unlock()
		return
	}
	s.ending, s.closed = true, true
	s.closedA.Store(true)
	s.mu.Unlock()
	s.cancel(reason)
	if s.logger != nil {
		s.logger.Debug("continuity: session end", "session", s.logID, "reason", reason.Error())
	}
	s.runCleanups()
	if h := s.hooks; h != nil && h.SessionEnd != nil {
		s.contain("SessionEnd hook", func() { h.SessionEnd(s, reason) })
	}
	s.mu.Lock()
	s.endDone = true
	if m := s.more; m != nil && m.ended != nil {
		close(m.ended)
	}
	s.mu.Unlock()
	if s.onEnd != nil {
		s.onEnd(s, reason)
	}
	s.mu.Lock()
	queued := make([]*exchange, 0, len(s.queue))
	for len(s.queue) > 0 {
		queued = append(queued, s.removeLocked(0))
	}
	s.mu.Unlock()
	for _, ex := range queued {
		ex.giveBack()
	}
}

// Path is the URL path of the request most recently delivered to the
// session.
func (s *Session) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}
