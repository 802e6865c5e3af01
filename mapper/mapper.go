// Package mapper maps each HTTP request to its continuity session: by a
// signed cookie, a signed query parameter, the client's IP address, the URL
// path, or a combination. It creates sessions (and the goroutines that run
// them), bounds how many live at once, and reaps idle ones.
//
// Session IDs are minted by the server (130 bits from crypto/rand by
// default) and sent signed with HMAC-SHA256 (gorilla/securecookie). The
// mapper is strict: an ID that is missing, forged, expired or no longer in
// the table never becomes a session key; a fresh ID is minted instead.
package mapper

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/continuity-go/continuity/internal/handoff"
)

// Defaults for the zero values of [Config].
const (
	DefaultCookieName  = "cid"
	DefaultQueryParam  = "sid"
	DefaultIdleTimeout = 20 * time.Minute
	DefaultMaxSessions = 10000
)

// ErrFull is returned by [Mapper.Session] when the session table is at
// MaxSessions and every session is busy, so none can be evicted.
var ErrFull = errors.New("continuity: too many sessions")

// ErrClosed is returned by [Mapper.Session] after [Mapper.Close].
var ErrClosed = errors.New("continuity: mapper closed")

// Key is one signing key set. Hash authenticates the session ID with
// HMAC-SHA256 and must be 32 or 64 bytes. Block, if set, also encrypts it
// with AES and must be 16, 24 or 32 bytes.
type Key struct {
	Hash  []byte
	Block []byte
}

// Config configures a [Mapper]. The zero value of each field is usable and
// documented.
type Config struct {
	// Mode selects what keys a session. Zero means ByCookie.
	Mode Mode

	// CookieName is the session cookie's name. Default "cid".
	CookieName string
	// CookiePath is the cookie's Path attribute. Default "/". Set it to the
	// mount point when several servers share a host (see the tour example).
	CookiePath string
	// CookieSecure forces the Secure attribute. It is set anyway on
	// requests that arrived over TLS.
	CookieSecure bool

	// QueryParam names the parameter that carries the session token in
	// ByQuery mode. Default "sid".
	QueryParam string

	// Keys sign session IDs. The first key signs; all are tried when
	// verifying, so keys can be rotated by putting the new one first. If
	// empty, a random key is generated: sessions then do not survive a
	// restart (they could not anyway: they live in memory) and cookies are
	// not shared between processes.
	Keys []Key

	// MaxAge bounds the age of a signed ID, checked from the signature's
	// timestamp. Default: MaxLifetime if set, else 30 days.
	MaxAge time.Duration

	// TrustedProxies lists the networks whose X-Forwarded-For headers are
	// believed in ByIP mode. Empty means none: the peer address is used.
	TrustedProxies []netip.Prefix

	// NewID mints session IDs. Default [RandomID].
	NewID func() (string, error)

	// IdleTimeout ends sessions that have had no request for this long.
	// Default 20 minutes. A negative value disables idle reaping.
	IdleTimeout time.Duration
	// MaxLifetime, if positive, ends sessions this long after they began,
	// however active (waiting for any request in flight to finish).
	MaxLifetime time.Duration
	// MaxSessions bounds the live sessions, and so the session goroutines.
	// Default 10,000. At the cap a new session evicts the least recently
	// used idle session, preferring sessions that have seen only one
	// request (a flood of cookie-less clients evicts itself, not the
	// established users). If every session is busy, [Mapper.Session]
	// returns ErrFull.
	MaxSessions int

	// Session is the template for each new session. App is required.
	// LogID, Token, Predecessor and OnEnd are set by the mapper (OnEnd, if
	// set here, still runs after the mapper's own bookkeeping).
	Session handoff.Options

	// Admit, if set, is asked before a request starts a new session; an
	// error refuses it and is returned by [Mapper.Session] (servers use it
	// for draining and for rate limits on new sessions).
	Admit func(r *http.Request) error

	// Logger receives mapper events. Nil discards them.
	Logger *slog.Logger
}

// A Mapper owns the session table, the session goroutines and the reaper.
// It is safe for concurrent use. Close stops everything it started.
type Mapper struct {
	cfg      Config
	codecs   []securecookie.Codec
	logKey   []byte
	idle     time.Duration
	max      int
	needID   bool // cookie or query mode: sessions carry a minted ID
	newID    func() (string, error)
	template handoff.Options

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	stop   chan struct{}
	reaped chan struct{}

	mu        sync.Mutex
	table     map[string]*entry
	probation lru // sessions that have seen one request
	protected lru // sessions that came back
	closed    bool

	running atomic.Int64 // session goroutines not yet exited
	// clock is a coarse time (unix nanos) for recency bookkeeping, moved on
	// by the reaper at each tick to the time of the next tick: it never
	// runs behind, so sessions are reaped at most one tick late and never
	// early, and the per-request path never reads the system clock.
	clock   atomic.Int64
	created atomic.Uint64
	evicted atomic.Uint64
	refused atomic.Uint64
	ended   [len(endReasons) + 1]atomic.Uint64 // by reason; the last is "other"
}

// endReasons name the session end reasons in [Stats.Ended].
var endReasons = [...]struct {
	err  error
	name string
}{
	{handoff.EndReturned, "returned"},
	{handoff.EndIdle, "idle"},
	{handoff.EndLifetime, "lifetime"},
	{handoff.EndEvicted, "evicted"},
	{handoff.EndShutdown, "shutdown"},
	{handoff.EndPanic, "panic"},
	{handoff.EndUnresponsive, "unresponsive"},
}

func (m *Mapper) countEnd(reason error) {
	for i, r := range endReasons {
		if errors.Is(reason, r.err) {
			m.ended[i].Add(1)
			return
		}
	}
	m.ended[len(endReasons)].Add(1)
}

// New validates cfg and returns a running Mapper. The reaper goroutine is
// started here; [Mapper.Close] stops it and every session.
func New(cfg Config) (*Mapper, error) {
	if cfg.Session.App == nil {
		return nil, errors.New("continuity: mapper: Session.App is nil")
	}
	if cfg.Mode == 0 {
		cfg.Mode = ByCookie
	}
	if cfg.Mode&ByCookie != 0 && cfg.Mode&ByQuery != 0 {
		return nil, errors.New("continuity: mapper: ByCookie and ByQuery cannot be combined (accepting session IDs from URLs as well as cookies enables session fixation)")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if !validCookieName(cfg.CookieName) {
		return nil, fmt.Errorf("continuity: mapper: invalid cookie name %q", cfg.CookieName)
	}
	if cfg.CookiePath == "" {
		cfg.CookiePath = "/"
	}
	if cfg.QueryParam == "" {
		cfg.QueryParam = DefaultQueryParam
	}
	if cfg.NewID == nil {
		cfg.NewID = RandomID
	}
	if cfg.MaxSessions < 0 {
		return nil, errors.New("continuity: mapper: MaxSessions is negative")
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	idle := cfg.IdleTimeout
	if idle == 0 {
		idle = DefaultIdleTimeout
	}
	if cfg.MaxLifetime < 0 {
		return nil, errors.New("continuity: mapper: MaxLifetime is negative")
	}
	keys := cfg.Keys
	if len(keys) == 0 {
		keys = []Key{{Hash: make([]byte, 32)}}
		rand.Read(keys[0].Hash)
	}
	maxAge := cfg.MaxAge
	if maxAge <= 0 {
		maxAge = cfg.MaxLifetime
	}
	if maxAge <= 0 {
		maxAge = 30 * 24 * time.Hour
	}
	codecs := make([]securecookie.Codec, 0, len(keys))
	for i, k := range keys {
		if n := len(k.Hash); n != 32 && n != 64 {
			return nil, fmt.Errorf("continuity: mapper: Keys[%d].Hash is %d bytes; want 32 or 64", i, n)
		}
		if n := len(k.Block); n != 0 && n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("continuity: mapper: Keys[%d].Block is %d bytes; want 16, 24 or 32 (or none)", i, n)
		}
		sc := securecookie.New(k.Hash, k.Block)
		sc.SetSerializer(securecookie.NopEncoder{})
		sc.MaxAge(int((maxAge + time.Second - 1) / time.Second))
		sc.MaxLength(1024)
		codecs = append(codecs, sc)
	}
	logKey := make([]byte, 32)
	rand.Read(logKey)

	ctx, cancel := context.WithCancelCause(context.Background())
	m := &Mapper{
		cfg:      cfg,
		codecs:   codecs,
		logKey:   logKey,
		idle:     idle,
		max:      cfg.MaxSessions,
		needID:   cfg.Mode&(ByCookie|ByQuery) != 0,
		newID:    cfg.NewID,
		template: cfg.Session,
		ctx:      ctx,
		cancel:   cancel,
		stop:     make(chan struct{}),
		reaped:   make(chan struct{}),
		table:    make(map[string]*entry),
	}
	if m.template.Logger == nil {
		m.template.Logger = cfg.Logger
	}
	m.template.Clock = &m.clock
	m.clock.Store(time.Now().Add(m.reapInterval()).UnixNano())
	go m.reap()
	return m, nil
}

// Session returns the session for r, creating one if r has none. When it
// mints a new session ID it returns the cookie to send (ByCookie mode) or,
// in ByQuery mode, the new token is available from the session's Request.
// Errors: [ErrFull] at the session cap with every session busy,
// [ErrClosed] after Close, [ErrBadForwardedFor], or an ID minting failure.
func (m *Mapper) Session(r *http.Request) (*handoff.Session, *http.Cookie, error) {
	prefix, err := m.keyPrefix(r)
	if err != nil {
		return nil, nil, err
	}
	id := ""
	if m.needID {
		id = m.clientID(r)
	}
	key := prefix + id
	var pred <-chan struct{} // the client's session, if it is still ending
	if id != "" || !m.needID {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, nil, ErrClosed
		}
		if e := m.table[key]; e != nil && !e.sess.Closed() {
			m.touchLocked(e)
			m.mu.Unlock()
			return e.sess, nil, nil
		} else if e != nil {
			pred = e.sess.Ended()
		}
		m.mu.Unlock()
	}

	if m.cfg.Admit != nil {
		if err := m.cfg.Admit(r); err != nil {
			return nil, nil, err
		}
	}

	// No live session. Strict mode: an ID the client sent is reused only in
	// path mode, where it names the browser (it is signed, so we minted it)
	// and a new path opens a new session for that browser.
	var cookie *http.Cookie
	token := ""
	if m.needID && (id == "" || m.cfg.Mode&ByPath == 0) {
		id, err = m.newID()
		if err != nil {
			return nil, nil, fmt.Errorf("continuity: minting session ID: %w", err)
		}
		token, err = securecookie.EncodeMulti(m.cookieOrParam(), []byte(id), m.codecs...)
		if err != nil {
			return nil, nil, fmt.Errorf("continuity: signing session ID: %w", err)
		}
		key = prefix + id
		if m.cfg.Mode&ByCookie != 0 {
			cookie = &http.Cookie{
				Name:     m.cfg.CookieName,
				Value:    token,
				Path:     m.cfg.CookiePath,
				HttpOnly: true,
				SameSite: http.SameSiteLaxMode,
				Secure:   m.cfg.CookieSecure || r.TLS != nil,
			}
		}
	} else if m.cfg.Mode&ByQuery != 0 {
		token = m.param(r)
	}
	sess, err := m.create(key, token, pred)
	if err != nil {
		return nil, nil, err
	}
	return sess, cookie, nil
}

// Find returns the live session for r without creating one or minting an
// ID: for endpoints, such as progress status, that must never start a
// session.
func (m *Mapper) Find(r *http.Request) (*handoff.Session, bool) {
	prefix, err := m.keyPrefix(r)
	if err != nil {
		return nil, false
	}
	id := ""
	if m.needID {
		if id = m.clientID(r); id == "" {
			return nil, false
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.table[prefix+id]
	if e == nil || e.sess.Closed() {
		return nil, false
	}
	return e.sess, true
}

// keyPrefix builds the address and path parts of the session key.
func (m *Mapper) keyPrefix(r *http.Request) (string, error) {
	mode := m.cfg.Mode
	if mode&(ByIP|ByPath) == 0 {
		return "", nil
	}
	prefix := ""
	if mode&ByIP != 0 {
		ip, err := clientIP(r, m.cfg.TrustedProxies)
		if err != nil {
			return "", err
		}
		prefix = ip.String() + "\x00"
	}
	if mode&ByPath != 0 {
		prefix += cleanPath(r.URL.Path) + "\x00"
	}
	return prefix, nil
}

// clientID returns the verified session ID the client sent, or "". A
// browser may send several cookies of the same name (with different Paths,
// or one left by another server on the host): the first that verifies
// wins.
func (m *Mapper) clientID(r *http.Request) string {
	if m.cfg.Mode&ByCookie != 0 {
		for _, c := range r.CookiesNamed(m.cfg.CookieName) {
			if id := m.verify(c.Value); id != "" {
				return id
			}
		}
		return ""
	}
	return m.verify(m.param(r))
}

// verify checks a signed token and returns the ID inside it, or "".
func (m *Mapper) verify(raw string) string {
	if raw == "" || len(raw) > 1024 {
		return ""
	}
	var id []byte
	if err := securecookie.DecodeMulti(m.cookieOrParam(), raw, &id, m.codecs...); err != nil {
		return ""
	}
	return string(id)
}

func (m *Mapper) param(r *http.Request) string {
	if r.Form != nil {
		return r.Form.Get(m.cfg.QueryParam)
	}
	return r.URL.Query().Get(m.cfg.QueryParam)
}

// cookieOrParam is the name bound into the signature, so a value signed for
// one server's cookie cannot be replayed as another's.
func (m *Mapper) cookieOrParam() string {
	if m.cfg.Mode&ByCookie != 0 {
		return m.cfg.CookieName
	}
	return m.cfg.QueryParam
}

func (m *Mapper) touchLocked(e *entry) {
	e.touched = m.clock.Load()
	e.hits++
	if e.list == &m.probation && e.hits > 1 {
		m.probation.remove(e)
		m.protected.pushFront(e)
		return
	}
	e.list.moveToFront(e)
}

// create adds a session under key, evicting at the cap, and starts its
// goroutine. pred, if set, is the Ended channel of the session the client
// had, still ending: the new one starts after it.
func (m *Mapper) create(key, token string, pred <-chan struct{}) (*handoff.Session, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	if e := m.table[key]; e != nil {
		if !e.sess.Closed() {
			// Another request for the same key created it meanwhile (IP
			// or path mode, or path mode with a known browser).
			m.touchLocked(e)
			m.mu.Unlock()
			return e.sess, nil
		}
		// A session that has closed but not yet finished ending: take
		// it out of the table and its list now, so that the new one does
		// not share its slot (its own end hook then finds nothing to do).
		m.removeLocked(e)
	}
	var victim *entry
	if len(m.table) >= m.max {
		victim = m.victimLocked()
		if victim == nil {
			m.mu.Unlock()
			m.refused.Add(1)
			return nil, ErrFull
		}
		m.removeLocked(victim)
	}
	e := &entry{key: key, touched: m.clock.Load(), hits: 1}
	opts := m.template
	opts.LogID = m.logID(key)
	opts.Token = token
	opts.Predecessor = pred
	userEnd := opts.OnEnd
	opts.OnEnd = func(s *handoff.Session, reason error) {
		m.mu.Lock()
		if e.list != nil && m.table[e.key] == e {
			m.removeLocked(e)
		}
		m.mu.Unlock()
		m.countEnd(reason)
		if userEnd != nil {
			userEnd(s, reason)
		}
	}
	e.sess = handoff.NewSession(m.ctx, opts)
	m.table[key] = e
	m.probation.pushFront(e)
	m.wg.Add(1)
	m.mu.Unlock()

	if victim != nil {
		m.evicted.Add(1)
		victim.sess.Close(handoff.EndEvicted)
	}
	m.created.Add(1)
	m.running.Add(1)
	go func() {
		defer m.wg.Done()
		defer m.running.Add(-1)
		e.sess.Run()
	}()
	return e.sess, nil
}

// victimLocked picks the session to evict: the least recently used idle
// session on probation, else the least recently used idle one that came
// back.
func (m *Mapper) victimLocked() *entry {
	for _, l := range [...]*lru{&m.probation, &m.protected} {
		for e := l.tail; e != nil; e = e.prev {
			if !e.sess.Busy() {
				return e
			}
		}
	}
	return nil
}

func (m *Mapper) removeLocked(e *entry) {
	if m.table[e.key] == e {
		delete(m.table, e.key) // never unmap a newer entry under the same key
	}
	if e.list != nil {
		e.list.remove(e)
	}
}

// logID is a keyed hash of the session key: stable for the session, useless
// to anyone reading the logs for hijacking it.
func (m *Mapper) logID(key string) string {
	h := hmac.New(sha256.New, m.logKey)
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:8])
}

// Len is the number of live sessions in the table.
func (m *Mapper) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.table)
}

// Stats counts sessions over the mapper's life.
type Stats struct {
	Live    int    // sessions in the table now
	Waiting int    // requests being handled or queued, over all sessions
	Created uint64 // sessions created
	Evicted uint64 // sessions evicted at the cap
	Refused uint64 // new sessions refused with ErrFull
	// Ended counts ended sessions by reason: returned, idle, lifetime,
	// evicted, shutdown, panic, unresponsive, other.
	Ended map[string]uint64
}

// Stats returns the mapper's counters.
func (m *Mapper) Stats() Stats {
	st := Stats{Created: m.created.Load(), Evicted: m.evicted.Load(), Refused: m.refused.Load(),
		Ended: make(map[string]uint64, len(endReasons)+1)}
	for i, r := range endReasons {
		st.Ended[r.name] = m.ended[i].Load()
	}
	st.Ended["other"] = m.ended[len(endReasons)].Load()
	m.mu.Lock()
	defer m.mu.Unlock()
	st.Live = len(m.table)
	for _, e := range m.table {
		st.Waiting += e.sess.Queued()
	}
	return st
}

// Sessions returns the live sessions, most recently used first.
func (m *Mapper) Sessions() []*handoff.Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*handoff.Session, 0, len(m.table))
	for _, l := range [...]*lru{&m.protected, &m.probation} {
		for e := l.head; e != nil; e = e.next {
			out = append(out, e.sess)
		}
	}
	return out
}

// Close stops the reaper, ends every session with reason
// [handoff.EndShutdown] and waits for their goroutines to exit or for ctx to
// be done, whichever comes first. After Close, Session returns ErrClosed.
// It is safe to call more than once.
func (m *Mapper) Close(ctx context.Context) error {
	m.mu.Lock()
	first := !m.closed
	m.closed = true
	m.mu.Unlock()
	if first {
		close(m.stop)
		m.cancel(handoff.EndShutdown)
	}
	<-m.reaped
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("continuity: %d session goroutines still running: %w", m.running.Load(), ctx.Err())
	}
}

func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
