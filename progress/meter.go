// Package progress gives a continuity session progress meters for slow
// work: the session goroutine (or goroutines it starts) advances a named
// [Meter], and the browser watches it at GET /_progress_status/NAME, which
// the server answers itself, outside the session goroutine, so it responds
// while the session is busy doing the work. It is modelled on
// Dancer2::Plugin::ProgressStatus, but in memory (or any [Store]), scoped
// to the session, and pushed as it happens.
//
//	err := progress.Run(r, "import", func(m *progress.Meter) error {
//		for _, row := range rows {
//			if err := load(row); err != nil {
//				return err
//			}
//			m.Inc()
//		}
//		return nil
//	}, progress.Total(len(rows)))
//
// # The status endpoint
//
// GET /_progress_status/NAME answers the meter NAME of the requesting
// browser's session as JSON:
//
//	{"name":"import","total":100,"count":20,"messages":["…"],"in_progress":true,"status":"…","version":7}
//
// Only the session that owns a meter can read it: another browser, a
// request with no session, a name never started, and a meter already
// freed all get the same 404. The endpoint never creates a session and
// never sets a cookie. Three transports share the URL:
//
//   - plain JSON: answered at once;
//   - long-poll, ?since=COUNT&wait=DURATION (and optionally &version=V):
//     answered as soon as the count differs from COUNT (or the version
//     from V), the meter finishes, or anything about it changes, else
//     after DURATION, bounded by [Options].MaxWait;
//   - Server-Sent Events, with Accept: text/event-stream: one event per
//     change, whose id is the state's version and whose data is the JSON
//     above; resumes after Last-Event-ID; ends when the meter finishes;
//     comments keep an idle stream alive.
//
// # Several meters of one name
//
// A page that runs several meters of the same server-side name adds
// ?progress_id=ID to the request that starts each one and to the status
// URL: the meter's key is then the name plus the ID (Dancer2's rule).
//
// # Lifetime
//
// A meter is in progress from [Start] until [Meter.Done]; [Run] calls Done
// for you, and a Meter dropped without Done is finished after it is garbage
// collected (by a goroutine of the server's, never on the runtime's cleanup
// goroutine). Finished meters stay readable for a retention time, then are
// freed; all of a session's meters are freed when the session ends.
//
// # Bounds
//
// What one session, and all of them together, may hold is bounded, with
// clear refusals: 64 meters per session ([ErrTooMany]), 10,000 meters and
// 64 MiB across all sessions ([ErrFull]), and 16 watchers waiting at once
// per session (429 with Retry-After). See [Options].
package progress

import (
	"context"
	"crypto/rand"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/continuity-go/continuity/request"
)

// IDParam is the query or form parameter by which the client tells
// several meters of one name apart.
const IDParam = "progress_id"

// MaxNameLen bounds meter names and progress_id values, in bytes.
const MaxNameLen = 128

// DefaultTotal is a meter's total unless [Total] says otherwise.
const DefaultTotal = 100

// An Option sets a meter's initial state in [Start] and [Run].
type Option func(*startConfig)

type startConfig struct {
	total, count int
	msgs         []string
	status       string
}

// Total sets the count at which the work is complete. Default 100.
func Total(n int) Option { return func(c *startConfig) { c.total = n } }

// Count sets the initial count. Default 0.
func Count(n int) Option { return func(c *startConfig) { c.count = n } }

// Messages sets the initial messages.
func Messages(msgs ...string) Option {
	return func(c *startConfig) { c.msgs = append(c.msgs, msgs...) }
}

// InitialStatus sets the initial status line.
func InitialStatus(s string) Option { return func(c *startConfig) { c.status = s } }

// A Meter is one running progress meter. Its methods are safe for
// concurrent use, so goroutines sharing the work may all advance it. Once
// [Meter.Done] has been called, further changes are ignored.
type Meter struct {
	m       *meter
	cleanup runtime.Cleanup
}

// meter is the state behind a Meter handle. It is separate so that a
// handle dropped without Done can finish it from a cleanup.
type meter struct {
	store      Store
	ctx        context.Context
	scope, key string
	name, id   string
	maxMsgs    int

	mu   sync.Mutex
	snap Snapshot // the last state published; Messages is clipped msgs
	msgs []string
	done bool
	err  error
}

// Start starts the meter name in r's session and returns it; the caller
// must call [Meter.Done] when the work is over (defer m.Done()), or use
// [Run], which does. If r's request carries a progress_id parameter, the
// meter's key is name plus that ID.
//
// Start fails if a meter of that key is already in progress in the
// session (an error wrapping [ErrRunning]; see [Running]), if the name or
// ID is invalid ([ErrBadName]), if the session holds too many meters
// ([ErrTooMany]), if the server holds too many across all sessions
// ([ErrFull]; see [Options].MaxMeters), or if the session has ended
// ([request.ErrSessionClosed]). A running meter is never disturbed; a
// finished meter of the same key is replaced.
func Start(r *request.Request, name string, opts ...Option) (*Meter, error) {
	id := r.Param(IDParam)
	key, err := meterKey(name, id)
	if err != nil {
		return nil, err
	}
	sess := r.Session()
	ctx := sess.Context()
	if ctx.Err() != nil {
		return nil, request.ErrSessionClosed
	}
	b := bind(sess, nil)
	b.watchEnd(sess)

	c := startConfig{total: DefaultTotal}
	for _, o := range opts {
		o(&c)
	}
	m := &meter{
		store:   b.h.store,
		ctx:     ctx,
		scope:   b.scope,
		key:     key,
		name:    name,
		id:      id,
		maxMsgs: b.h.maxMsgs,
	}
	for _, msg := range c.msgs {
		m.addMessage(msg)
	}
	m.snap = Snapshot{
		Name:       name,
		ID:         id,
		Total:      c.total,
		Count:      c.count,
		Messages:   slices.Clip(m.msgs),
		Status:     c.status,
		InProgress: true,
	}
	v, err := m.store.Create(ctx, m.scope, key, m.snap)
	if err != nil {
		return nil, &meterError{key: key, err: err}
	}
	if ctx.Err() != nil {
		// The session ended while we created the meter; its cleanup may
		// have run before, so free the scope again.
		b.deleteScope()
		return nil, request.ErrSessionClosed
	}
	m.snap.Version = v
	h := &Meter{m: m}
	// A dropped handle is finished by the Handler's janitor, never on the
	// runtime's cleanup goroutine, which a slow store would block.
	h.cleanup = runtime.AddCleanup(h, b.h.jan.finishLater, m)
	return h, nil
}

// Run starts the meter name (see [Start]), calls fn with it, and finishes
// the meter when fn returns or panics. It returns Start's error, or fn's.
func Run(r *request.Request, name string, fn func(*Meter) error, opts ...Option) error {
	m, err := Start(r, name, opts...)
	if err != nil {
		return err
	}
	defer m.Done()
	return fn(m)
}

// Running reports whether a meter of that name (plus the request's
// progress_id, as in [Start]) is in progress in r's session.
func Running(r *request.Request, name string) bool {
	key, err := meterKey(name, r.Param(IDParam))
	if err != nil {
		return false
	}
	sess := r.Session()
	b := bindingOf(sess)
	if b == nil {
		return false
	}
	s, err := b.h.store.Get(sess.Context(), b.scope, key)
	return err == nil && s.InProgress
}

// meterKey returns the store key of the meter name with the client's
// progress_id id ("" for none): name, or name + "/" + id. It returns
// [ErrBadName] if either is invalid (see [ValidName]).
func meterKey(name, id string) (string, error) {
	if !ValidName(name) {
		return "", &meterError{key: name, err: ErrBadName}
	}
	if id == "" {
		return name, nil
	}
	if !ValidName(id) {
		return "", &meterError{key: id, err: ErrBadName}
	}
	return name + "/" + id, nil
}

// ValidName reports whether s can name a meter (or be a progress_id): 1 to
// [MaxNameLen] bytes of valid UTF-8, with no "/", "\", "..", or control
// characters.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLen || strings.Contains(s, "..") || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '/' || r == '\\' {
			return false
		}
	}
	return true
}

// Name is the meter's name.
func (m *Meter) Name() string { return m.m.name }

// ID is the client's progress_id the meter was started with, or "".
func (m *Meter) ID() string { return m.m.id }

// Inc adds one to the count.
func (m *Meter) Inc() { m.Add(1) }

// Add adds n to the count.
func (m *Meter) Add(n int) {
	m.m.update(func(s *Snapshot) bool {
		s.Count += n
		return n != 0
	})
}

// Set sets the count.
func (m *Meter) Set(n int) {
	m.m.update(func(s *Snapshot) bool {
		old := s.Count
		s.Count = n
		return old != n
	})
}

// SetTotal sets the count at which the work is complete.
func (m *Meter) SetTotal(n int) {
	m.m.update(func(s *Snapshot) bool {
		old := s.Total
		s.Total = n
		return old != n
	})
}

// Message appends msg to the meter's messages. The meter keeps the latest
// [Options].MaxMessages (default 100); older ones are dropped.
func (m *Meter) Message(msg string) {
	mm := m.m
	mm.update(func(s *Snapshot) bool {
		mm.addMessage(msg)
		s.Messages = slices.Clip(mm.msgs)
		return true
	})
}

// Status sets the meter's status line.
func (m *Meter) Status(status string) {
	m.m.update(func(s *Snapshot) bool {
		old := s.Status
		s.Status = status
		return old != status
	})
}

// Done finishes the meter: it is no longer in progress, and stays readable
// for the store's retention time. Done is idempotent.
func (m *Meter) Done() {
	m.cleanup.Stop()
	m.m.finish(m.m.ctx)
}

// Snapshot returns the meter's current state. Treat its Messages as
// read-only.
func (m *Meter) Snapshot() Snapshot {
	m.m.mu.Lock()
	defer m.m.mu.Unlock()
	return m.m.snap
}

// Err returns the first error the store returned for an update, or nil.
// With the memory store, an update fails after the session has ended, and
// one whose new messages or status did not fit in the server's bound
// ([ErrFull]; see [Options].MaxBytes) is recorded without them.
func (m *Meter) Err() error {
	m.m.mu.Lock()
	defer m.m.mu.Unlock()
	return m.m.err
}

// update applies f to the state and, if f reports a change, publishes it.
func (m *meter) update(f func(*Snapshot) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done || !f(&m.snap) {
		return
	}
	m.publish()
}

// finish publishes the final state, with ctx for the store call.
func (m *meter) finish(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return
	}
	m.done = true
	m.snap.InProgress = false
	m.publishCtx(ctx)
}

// publish stores the state. m.mu must be held: holding it across the store
// call keeps versions in the order of the changes.
func (m *meter) publish() { m.publishCtx(m.ctx) }

func (m *meter) publishCtx(ctx context.Context) {
	v, err := m.store.Update(ctx, m.scope, m.key, m.snap)
	if err != nil && m.err == nil {
		m.err = err
	}
	if v != 0 { // recorded, perhaps without its text (ErrFull)
		m.snap.Version = v
	}
}

// addMessage appends msg, dropping the oldest beyond maxMsgs. Snapshots
// hold clipped windows of msgs; appending only ever writes past the end of
// every window handed out, so they never change.
func (m *meter) addMessage(msg string) {
	if len(m.msgs) >= m.maxMsgs {
		m.msgs = m.msgs[len(m.msgs)-m.maxMsgs+1:]
	}
	m.msgs = append(m.msgs, msg)
}

// meterError names the meter an error is about.
type meterError struct {
	key string
	err error
}

func (e *meterError) Error() string {
	return "progress: meter " + strconv.Quote(e.key) + ": " + strings.TrimPrefix(e.err.Error(), "progress: ")
}

func (e *meterError) Unwrap() error { return e.err }

// A session is tied to the Handler that serves its meters by a binding
// kept in the session's values.
type bindKey struct{}

type binding struct {
	h        *Handler
	scope    string // random; names the session's meters in the store
	once     sync.Once
	watchers atomic.Int32 // the session's waiting status requests
}

func bindingOf(sess *request.Session) *binding {
	b, _ := sess.Value(bindKey{}).(*binding)
	return b
}

// bind returns sess's binding, making one on first use: to h, else to the
// Handler the server shares, else to a private default one. Sessions that
// never start a meter never pay for a binding.
func bind(sess *request.Session, h *Handler) *binding {
	if b := bindingOf(sess); b != nil {
		return b
	}
	if h == nil {
		// The server shares its Handler with its sessions under a typed
		// nil, a key both packages can name without exporting one.
		h, _ = sess.Value((*Handler)(nil)).(*Handler)
	}
	return sess.ValueOrSet(bindKey{}, func() any {
		if h == nil {
			h = New(Options{})
		}
		return &binding{h: h, scope: rand.Text()}
	}).(*binding)
}

// watchEnd arranges, once, for the session's meters to be freed when the
// session ends.
func (b *binding) watchEnd(sess *request.Session) {
	b.once.Do(func() {
		context.AfterFunc(sess.Context(), b.deleteScope)
	})
}

func (b *binding) deleteScope() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.h.store.DeleteScope(ctx, b.scope)
}
