// Package mapping is the server's session table: it maps each HTTP
// request to its continuity session (by a signed cookie, a signed query
// parameter, the client's IP address, the URL path, an identity the
// application vouches for, or a combination), mints and signs session IDs,
// creates sessions and the goroutines that run them, bounds how many live
// at once and per client, evicts and reaps. Package mapper holds what
// applications name (the modes, the signing keys, the ID minters); this
// package is the machinery behind continuity.Server.
//
// The mapping is strict: an ID that is missing, forged, expired or no
// longer in the table never becomes a session key; a fresh ID is minted
// instead.
package mapping

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/continuity-go/continuity/internal/handoff"
	"github.com/continuity-go/continuity/mapper"
)

// Defaults for the zero values of [Config].
const (
	defaultCookieName  = "cid"
	defaultQueryParam  = "sid"
	defaultIdleTimeout = 20 * time.Minute
	defaultMaxSessions = 10000
)

// ErrFull is returned by [Mapper.Session] when the session table is at
// MaxSessions and every session is busy, so none can be evicted.
var ErrFull = errors.New("continuity: too many sessions")

// ErrClosed is returned by [Mapper.Session] after [Mapper.Close].
var ErrClosed = errors.New("continuity: mapper closed")

// ErrUnidentified is returned by [Mapper.Session] when [Config.Identify]
// returns an error (wrapped with this one) or an empty identity: the
// request is refused and starts no session.
var ErrUnidentified = errors.New("continuity: request not identified")

// Config configures a [Mapper]. The zero value of each field is usable and
// documented.
type Config struct {
	// Mode selects what keys a session. Zero means ByCookie, or, when
	// Identify is set, the identity alone.
	Mode Mode

	// Identify, if set, keys each request to a session by an identity the
	// application vouches for, such as the user ID that an authenticating
	// middleware put into the request's context. The identity becomes
	// part of the session key, as the address does in ByIP, and combines
	// with Mode: with Mode zero the identity alone keys the session (one
	// session per user, shared by the user's browsers and tabs, one
	// request at a time); with ByCookie each user has a session per
	// browser, and a cookie carried over to another identity does not
	// reach the first one's session; with ByPath a session per user and
	// path. The mapper still mints, signs, bounds and reaps the sessions.
	//
	// Security contract: the identity must come from authenticated data
	// (your own verified login session, a validated bearer token, a client
	// certificate), never from unsigned client input such as a header, a
	// query parameter or an unsigned cookie: whoever can choose the
	// identity can step into that user's session. An error, or an empty
	// identity, refuses the request with [ErrUnidentified] (servers answer
	// 403) and starts no session. The identity is never logged or shown:
	// the mapper keeps only a keyed hash of it. Identify runs on every
	// request, on the handler's goroutine, before the session is found:
	// keep it cheap and free of side effects.
	Identify func(r *http.Request) (string, error)

	// CookieName is the session cookie's name. Default "cid".
	CookieName string
	// CookiePath is the cookie's Path attribute. Default "/". Set it to the
	// mount point when several servers share a host (see the tour example).
	CookiePath string
	// CookieSecure forces the Secure attribute. It is set anyway on
	// requests that arrived over TLS.
	CookieSecure bool
	// CookieSameSite is the cookie's SameSite attribute. Zero means Lax.
	CookieSameSite http.SameSite

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
	// timestamp. Default: MaxLifetime if set, else no bound from the
	// signature (an ID is still good only while its session lives, and
	// sessions end at IdleTimeout).
	MaxAge time.Duration

	// TrustedProxies lists the networks whose X-Forwarded-For headers are
	// believed when resolving the client address: the rightmost hop that is
	// not itself a trusted proxy is the client. Empty means none: the peer
	// address is used. The client address keys sessions in ByIP mode and,
	// in every mode, is what Admit is given when a request would start a
	// session. Behind a reverse proxy, list it here, or every client looks
	// like the proxy.
	TrustedProxies []netip.Prefix

	// NewID mints session IDs. Default [mapper.RandomID].
	NewID func() (string, error)

	// IdleTimeout ends sessions that have had no request for this long.
	// Default 20 minutes. A negative value disables idle reaping.
	IdleTimeout time.Duration
	// MaxLifetime, if positive, ends sessions this long after they began,
	// however active (waiting for any request in flight to finish).
	MaxLifetime time.Duration
	// MaxSessions bounds the live sessions, and so the session goroutines.
	// Default 10,000. At the cap a new session from a client that holds at
	// least an average share of the table displaces that client's own
	// least recently used idle session (the heaviest clients evict
	// themselves, so returning bots cannot evict an established user of
	// another address), and is refused with ErrClientLimit if it has none
	// idle. Any other new session evicts the least recently used idle
	// session, preferring sessions that have seen only one handoff. If
	// every session is busy, [Mapper.Session] returns ErrFull.
	MaxSessions int

	// MaxSessionsPerClient bounds the live sessions of one client: an IP
	// address, an IPv6 /64, or the client that TrustedProxies forward for.
	// At the bound a new session from the client displaces the client's
	// own least recently used idle session (never another client's); if
	// all of them are busy, [Mapper.Session] returns [ErrClientLimit].
	// Default: an eighth of MaxSessions, but at least 64 (or MaxSessions,
	// if smaller): one NAT'd office must fit, one address must not take
	// the table. Negative: no bound. Loopback and non-IP peers are never
	// bounded (they are the host, or a proxy on it missing from
	// TrustedProxies).
	MaxSessionsPerClient int
	// MaxBusyPerClient bounds the busy sessions (with a request being
	// handled or queued, such as a stream or a long poll) of one client:
	// a client holding this many cannot start another session, and gets
	// [ErrClientLimit]. Default: a sixteenth of MaxSessions, but at least
	// 32 (or MaxSessions, if smaller): at least sixteen clients are then
	// needed to pin the whole table. Negative: no bound.
	MaxBusyPerClient int

	// Session is the template for each new session. App is required.
	// LogID, Token, Predecessor and OnEnd are set by the mapper (OnEnd, if
	// set here, still runs after the mapper's own bookkeeping); Token only
	// in ByQuery mode, so that a cookie's value never reaches the app. The
	// mapper sets Clock, Epoch, QueryParam, Renew and Owner too.
	Session handoff.Options

	// Takeover, if set, is asked (cookie or query mode) about a session
	// ID the client sent that names no live session here: another node of
	// the deployment may have run it. It returns the session's shared
	// state, with its lease held and its journal to replay, or nil (and
	// no error) when no node knows the session; an error refuses the
	// request. At most one takeover of an ID runs at a time. See
	// takeover.go.
	Takeover func(ctx context.Context, id string, r *http.Request) (*handoff.Owned, error)
	// Own, if set, makes every new session with an ID shared (cookie or
	// query mode, as for Takeover): it returns the session's lease and
	// journal key, or an error that refuses the request.
	Own func(ctx context.Context, id string) (*handoff.Owned, error)

	// Admit, if set, is asked before a request starts a new session; an
	// error refuses it and is returned by [Mapper.Session] (servers use it
	// for draining and for rate limits on new sessions). client is the
	// client address resolved through TrustedProxies, or the zero Addr
	// when the peer has no IP address (a Unix socket).
	Admit func(r *http.Request, client netip.Addr) error

	// Logger receives mapper events. Nil discards them.
	Logger *slog.Logger
}

// A Mapper owns the session table, the session goroutines and the reaper.
// It is safe for concurrent use. Close stops everything it started.
type Mapper struct {
	cfg      Config
	codecs   []securecookie.Codec
	tokens   *tokenCache // verified tokens (verify.go)
	signer   *signer     // signs new tokens, unless the first key encrypts
	maxAge   int64       // the signature's age bound in seconds; 0: none
	logKey   *keyedHash  // hashes session keys into log IDs
	idKey    *keyedHash  // hashes identities from Identify into keys
	idle     time.Duration
	max      int
	maxLive  int  // per client; 0: no bound
	maxBusy  int  // per client; 0: no bound
	needID   bool // cookie or query mode: sessions carry a minted ID
	newID    func() (string, error)
	template handoff.Options
	userEnd  func(*handoff.Session, error) // the OnEnd of cfg.Session, called after the mapper's
	tmpl     handoff.Template              // made from template once it is complete

	stop   chan struct{}
	reaped chan struct{}
	// exited is closed, once the mapper is closed, by whoever sees the
	// last session goroutine gone: Close waits on it without a goroutine
	// of its own.
	exited chan struct{}

	mu        sync.Mutex
	table     map[string]*entry
	takeovers map[string]chan struct{} // IDs being taken over; closed when done
	probation lru                      // sessions that have seen one request
	protected lru                      // sessions that came back
	// clients holds the bounded clients' shares of the table; tracked is
	// the number of sessions they hold.
	clients map[netip.Addr]*client
	tracked int
	// browsers maps a browser ID to its live sessions, in path mode with a
	// minted ID (nil otherwise): the ID is accepted on a new path only
	// while the browser has one.
	browsers  map[string][]*entry
	closed    bool
	running   int  // session goroutines not yet exited
	exitedSet bool // exited has been closed

	// clock is a coarse time for recency bookkeeping, in nanoseconds since
	// epoch on the monotonic clock (a wall-clock jump moves nobody's idle
	// time). The reaper moves it on at each tick to the time of the next
	// tick: it never runs behind, so sessions are reaped at most one tick
	// late and never early, and the per-request path never reads the
	// system clock.
	clock   atomic.Int64
	epoch   time.Time
	created atomic.Uint64
	evicted atomic.Uint64
	refused atomic.Uint64
	limited atomic.Uint64                      // refused with ErrClientLimit
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
	{handoff.ErrDivergence, "divergence"},
	{handoff.EndReplayTimeout, "replay_timeout"},
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
	if cfg.Mode == 0 && cfg.Identify == nil {
		cfg.Mode = ByCookie
	}
	if cfg.Mode&ByCookie != 0 && cfg.Mode&ByQuery != 0 {
		return nil, errors.New("continuity: mapper: ByCookie and ByQuery cannot be combined (accepting session IDs from URLs as well as cookies enables session fixation)")
	}
	if cfg.Mode == ByPath && cfg.Identify == nil {
		return nil, errors.New("continuity: mapper: Mode ByPath alone would give every browser that visits a path the same session; combine it with ByCookie, ByQuery, ByIP or Identify")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = defaultCookieName
	}
	if !validCookieName(cfg.CookieName) {
		return nil, fmt.Errorf("continuity: mapper: invalid cookie name %q", cfg.CookieName)
	}
	if cfg.CookiePath == "" {
		cfg.CookiePath = "/"
	}
	if cfg.QueryParam == "" {
		cfg.QueryParam = defaultQueryParam
	}
	if cfg.NewID == nil {
		cfg.NewID = mapper.RandomID
	}
	if cfg.MaxSessions < 0 {
		return nil, errors.New("continuity: mapper: MaxSessions is negative")
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = defaultMaxSessions
	}
	maxLive, maxBusy := clientBounds(cfg.MaxSessions, cfg.MaxSessionsPerClient, cfg.MaxBusyPerClient)
	idle := cfg.IdleTimeout
	if idle == 0 {
		idle = defaultIdleTimeout
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
		maxAge = cfg.MaxLifetime // zero when unset: no age bound
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
		// securecookie caps ages at 30 days unless told otherwise; 0
		// lifts the cap.
		sc.MaxAge(int((maxAge + time.Second - 1) / time.Second))
		sc.MaxLength(maxTokenLength)
		codecs = append(codecs, sc)
	}
	logKey := make([]byte, 32)
	rand.Read(logKey)
	idKey := make([]byte, 32)
	rand.Read(idKey)

	m := &Mapper{
		cfg:      cfg,
		codecs:   codecs,
		tokens:   newTokenCache(cfg.MaxSessions),
		maxAge:   int64((maxAge + time.Second - 1) / time.Second),
		logKey:   newKeyedHash(logKey),
		idKey:    newKeyedHash(idKey),
		idle:     idle,
		max:      cfg.MaxSessions,
		maxLive:  maxLive,
		maxBusy:  maxBusy,
		needID:   cfg.Mode&(ByCookie|ByQuery) != 0,
		newID:    cfg.NewID,
		template: cfg.Session,
		stop:     make(chan struct{}),
		reaped:   make(chan struct{}),
		exited:   make(chan struct{}),
		table:    make(map[string]*entry),
		clients:  make(map[netip.Addr]*client),
	}
	if m.needID && cfg.Mode&ByPath != 0 {
		m.browsers = make(map[string][]*entry)
	}
	if len(keys[0].Block) == 0 {
		m.signer = &signer{name: m.cookieOrParam(), mac: newKeyedHash(keys[0].Hash)}
	}
	if m.template.Logger == nil {
		m.template.Logger = cfg.Logger
	}
	// One Renew and one OnEnd for all sessions, not two closures each:
	// they find the session's entry through its Owner.
	m.userEnd = m.template.OnEnd
	m.template.Renew = m.renewOwned
	m.template.OnEnd = m.sessionEnded
	m.epoch = time.Now()
	m.template.Clock = &m.clock
	m.template.Epoch = m.epoch
	m.template.QueryParam = ""
	if cfg.Mode&ByQuery != 0 {
		m.template.QueryParam = cfg.QueryParam
	}
	m.tmpl = handoff.NewTemplate(m.template) // the sessions share it
	m.clock.Store(int64(m.reapInterval()))
	go m.reap()
	return m, nil
}

// Session returns the session for r, creating one if r has none. When it
// mints a new session ID it returns the cookie to send (ByCookie mode) or,
// in ByQuery mode, the new token is available from the session's Request.
// Errors: [ErrFull] at the session cap with every session busy,
// [ErrClientLimit] when the client may not start another session,
// [ErrUnidentified] when Identify refuses the request, [ErrClosed] after
// Close, [ErrBadForwardedFor], Admit's error, or an ID minting failure.
func (m *Mapper) Session(r *http.Request) (*handoff.Session, *http.Cookie, error) {
	return m.SessionFor(r, m.Lookup(r))
}

// A Lookup is what maps a request to its session: its identity, address
// and path parts and the verified ID it carries. Mapper.Lookup works it
// out once, so that a server that looks a request up before reading its
// body (FindLookup) and then hands it over (SessionFor) runs Identify and
// the token check once.
type Lookup struct {
	prefix string
	client netip.Addr // in ByIP mode
	id     string
	err    error
}

// Lookup works out how r maps to its session. In ByQuery mode the ID may
// be in the body: parse the form first.
func (m *Mapper) Lookup(r *http.Request) Lookup {
	prefix, client, err := m.keyPrefix(r)
	if err != nil {
		return Lookup{err: err}
	}
	k := Lookup{prefix: prefix, client: client}
	if m.needID {
		k.id = m.clientID(r)
	}
	return k
}

// SessionFor is Session for r, whose lookup k is.
func (m *Mapper) SessionFor(r *http.Request, k Lookup) (*handoff.Session, *http.Cookie, error) {
	if k.err != nil {
		return nil, nil, k.err
	}
	prefix, client, id := k.prefix, k.client, k.id
	key := prefix + id
	var err error
	browserLive := false     // path mode: id names a browser with a live session
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
		browserLive = id != "" && len(m.browsers[id]) > 0
		m.mu.Unlock()
	}

	if m.cfg.Mode&ByIP == 0 {
		// Only a request that would start a session pays for this.
		if client, err = m.clientAddr(r); err != nil {
			return nil, nil, err
		}
	}
	if m.cfg.Admit != nil {
		if err := m.cfg.Admit(r, client); err != nil {
			return nil, nil, err
		}
	}

	// No live session. Strict mode: an ID the client sent is reused only in
	// path mode, where it names the browser, and only while that browser
	// has a live session (so the ID expires with its sessions, as in cookie
	// mode): a new path then opens a new session for the same browser. (A
	// browser whose last session ends between that check and create below
	// keeps its ID: it was live a moment ago.)
	var cookie *http.Cookie
	var owned *handoff.Owned
	token := ""
	if id != "" && !browserLive && m.cfg.Takeover != nil && m.cfg.Mode&ByPath == 0 {
		o, again, done, err := m.takeover(r, id)
		switch {
		case err != nil:
			return nil, nil, err
		case again:
			return m.SessionFor(r, k)
		}
		defer done()
		if o != nil {
			owned, browserLive = o, true // keep the ID the client sent
		}
	}
	if m.needID && !browserLive {
		id, token, err = m.mint()
		if err != nil {
			return nil, nil, err
		}
		if m.cfg.Mode&ByCookie != 0 {
			cookie = m.cookie(token, r)
		}
	} else if m.cfg.Mode&ByQuery != 0 {
		token = m.param(r)
	}
	if m.cfg.Mode&ByQuery == 0 {
		token = "" // the cookie's value never reaches the app
	}
	// In path mode the ID names the browser, not the session: its
	// sessions (one per path) would all ask for one lease. They are not
	// taken over either, so they stay this node's.
	if owned == nil && id != "" && m.cfg.Own != nil && m.cfg.Mode&ByPath == 0 {
		if owned, err = m.cfg.Own(r.Context(), id); err != nil {
			return nil, nil, err
		}
	}
	sess, err := m.create(prefix, id, token, client, pred, owned)
	if err != nil {
		return nil, nil, err
	}
	return sess, cookie, nil
}

// Find returns the live session for r without creating one or minting an
// ID: for endpoints, such as progress status, that must never start a
// session.
func (m *Mapper) Find(r *http.Request) (*handoff.Session, bool) {
	return m.FindLookup(m.Lookup(r))
}

// FindLookup is Find for the request whose lookup k is.
func (m *Mapper) FindLookup(k Lookup) (*handoff.Session, bool) {
	if k.err != nil || m.needID && k.id == "" {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.table[k.prefix+k.id]
	if e == nil || e.sess.Closed() {
		return nil, false
	}
	return e.sess, true
}

// keyPrefix builds the identity, address and path parts of the session
// key. In ByIP mode it returns the client address too.
func (m *Mapper) keyPrefix(r *http.Request) (string, netip.Addr, error) {
	mode := m.cfg.Mode
	var client netip.Addr
	if mode&(ByIP|ByPath) == 0 && m.cfg.Identify == nil {
		return "", client, nil
	}
	prefix := ""
	if m.cfg.Identify != nil {
		who, err := m.cfg.Identify(r)
		switch {
		case err != nil:
			return "", client, fmt.Errorf("%w: %w", ErrUnidentified, err)
		case who == "":
			return "", client, ErrUnidentified
		}
		prefix = m.identity(who)
	}
	if mode&ByIP != 0 {
		ip, err := clientIP(r, m.cfg.TrustedProxies)
		if err != nil {
			return "", client, err
		}
		client = ip
		prefix += ip.String() + "\x00"
	}
	if mode&ByPath != 0 {
		prefix += cleanPath(r.URL.Path) + "\x00"
	}
	return prefix, client, nil
}

// identity is the key part for an identity from Identify: a keyed hash of
// fixed length, so the key holds no identity, whatever its length or
// bytes, and no identity can spill into another part of the key.
func (m *Mapper) identity(who string) string {
	var sum [sha256.Size]byte
	return string(m.idKey.sum(sum[:0], who)[:16])
}

// clientAddr resolves r's client address as in ByIP mode, for the modes
// that do not key on it. A peer that is not an IP address (a Unix socket)
// has none: the zero Addr. A malformed X-Forwarded-For from a trusted proxy
// is [ErrBadForwardedFor].
func (m *Mapper) clientAddr(r *http.Request) (netip.Addr, error) {
	a, err := clientIP(r, m.cfg.TrustedProxies)
	switch {
	case errors.Is(err, ErrBadForwardedFor):
		return netip.Addr{}, err
	case err != nil:
		return netip.Addr{}, nil
	}
	return a, nil
}

// mint makes a new session ID and its signed token.
func (m *Mapper) mint() (id, token string, err error) {
	id, err = m.newID()
	if err != nil {
		return "", "", fmt.Errorf("continuity: minting session ID: %w", err)
	}
	if m.signer != nil {
		token, err = m.signer.sign(id, time.Now().Unix())
	} else {
		token, err = securecookie.EncodeMulti(m.cookieOrParam(), []byte(id), m.codecs...)
	}
	if err != nil {
		return "", "", fmt.Errorf("continuity: signing session ID: %w", err)
	}
	return id, token, nil
}

// cookie is the session cookie carrying token, for a response to r.
func (m *Mapper) cookie(token string, r *http.Request) *http.Cookie {
	return &http.Cookie{
		Name:     m.cfg.CookieName,
		Value:    token,
		Path:     m.cfg.CookiePath,
		HttpOnly: true,
		SameSite: cmp.Or(m.cfg.CookieSameSite, http.SameSiteLaxMode),
		Secure:   m.cfg.CookieSecure || r.TLS != nil,
	}
}

// maxCookiesTried bounds the same-name cookies verified per handoff. A
// browser sends one per matching Path (this server's, a parent path's,
// another server's on the host): rarely more than two or three. Each costs
// an HMAC, so a request stuffed with hundreds must not cost hundreds.
const maxCookiesTried = 4

// clientID returns the verified session ID the client sent, or "". A
// browser may send several cookies of the same name (with different Paths,
// or one left by another server on the host): the first that verifies
// among the first maxCookiesTried wins.
func (m *Mapper) clientID(r *http.Request) string {
	if m.cfg.Mode&ByCookie != 0 {
		id, tried := "", 0
		cookieValues(r.Header, m.cfg.CookieName, func(v string) bool {
			if tried++; tried > maxCookiesTried {
				return false
			}
			id = m.verify(v)
			return id == ""
		})
		return id
	}
	return m.verify(m.param(r))
}

// verify checks a signed token and returns the ID inside it, or "". A
// token verified before is found in the cache of verified tokens (see
// verify.go), which compares it whole.
func (m *Mapper) verify(raw string) string {
	if raw == "" || len(raw) > maxTokenLength {
		return ""
	}
	if id, ok := m.tokens.get(raw); ok {
		return id
	}
	var id []byte
	if err := securecookie.DecodeMulti(m.cookieOrParam(), raw, &id, m.codecs...); err != nil {
		return ""
	}
	s := string(id)
	m.tokens.put(raw, s, m.maxAge)
	return s
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
	if e.client != nil {
		e.client.moveToFront(e)
	}
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
func (m *Mapper) create(prefix, id, token string, addr netip.Addr, pred <-chan struct{}, owned *handoff.Owned) (*handoff.Session, error) {
	key := prefix + id
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		releaseOwned(owned)
		return nil, ErrClosed
	}
	if e := m.table[key]; e != nil {
		if !e.sess.Closed() {
			// Another request for the same key created it meanwhile (IP
			// or path mode, or path mode with a known browser).
			m.touchLocked(e)
			m.mu.Unlock()
			releaseOwned(owned)
			return e.sess, nil
		}
		// A session that has closed but not yet finished ending: take
		// it out of the table and its list now, so that the new one does
		// not share its slot (its own end hook then finds nothing to do).
		m.removeLocked(e)
	}
	ckey, bounded := clientKey(addr)
	victim, err := m.makeRoomLocked(ckey, bounded)
	if err != nil {
		m.mu.Unlock()
		releaseOwned(owned)
		return nil, err
	}
	if victim != nil {
		m.removeLocked(victim)
	}
	e := &entry{key: key, idAt: uint32(len(prefix)), touched: m.clock.Load(), hits: 1}
	opts := m.template
	opts.LogID = m.logID(key)
	opts.Token = token
	opts.Owner = e
	opts.Predecessor = pred
	opts.Owned = owned
	// The parent is never cancelled: Close ends the sessions itself, which
	// spares each a context of its own (see handoff.Template.NewSession).
	e.sess = m.tmpl.NewSession(context.Background(), opts)
	m.table[key] = e
	m.probation.pushFront(e)
	if bounded {
		c := m.clients[ckey]
		if c == nil {
			c = &client{key: ckey, list: list{at: inClient}}
			m.clients[ckey] = c
		}
		c.pushFront(e)
		m.tracked++
	}
	if m.browsers != nil {
		m.browsers[id] = append(m.browsers[id], e)
	}
	m.running++
	m.mu.Unlock()

	if victim != nil {
		m.evicted.Add(1)
		victim.sess.Close(handoff.EndEvicted)
	}
	m.created.Add(1)
	go func() {
		defer m.exit()
		e.sess.Run()
	}()
	return e.sess, nil
}

// exit accounts for a session goroutine that has finished.
func (m *Mapper) exit() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running--
	m.signalExitedLocked()
}

// signalExitedLocked closes exited once the mapper is closed and no
// session goroutine is left.
func (m *Mapper) signalExitedLocked() {
	if m.closed && m.running == 0 && !m.exitedSet {
		m.exitedSet = true
		close(m.exited)
	}
}

// errNoID is RenewID's error in modes whose sessions carry no ID.
var errNoID = errors.New("continuity: RenewID: sessions keyed only by address, identity or path have no session ID to renew")

// renewOwned is every session's Renew: s's owner is its entry.
func (m *Mapper) renewOwned(s *handoff.Session, r *http.Request) (string, *http.Cookie, error) {
	return m.renew(s.Owner().(*entry), r)
}

// sessionEnded is every session's OnEnd: it takes the session's entry out of the
// table, counts the end, and calls the application's OnEnd.
func (m *Mapper) sessionEnded(s *handoff.Session, reason error) {
	e := s.Owner().(*entry)
	m.mu.Lock()
	if e.list != nil && m.table[e.key] == e {
		m.removeLocked(e)
	}
	m.mu.Unlock()
	m.countEnd(reason)
	if m.userEnd != nil {
		m.userEnd(s, reason)
	}
}

// renew gives e a new ID for Request.RenewID: the old ID stops reaching
// it at once. In ByCookie|ByPath the cookie names the browser, so every
// session of the browser moves to the new ID. In ByQuery|ByPath only e
// moves: the browser's other sessions are reached by the token in their
// own pages, which must keep working.
func (m *Mapper) renew(e *entry, r *http.Request) (string, *http.Cookie, error) {
	if !m.needID {
		return "", nil, errNoID
	}
	id, token, err := m.mint()
	if err != nil {
		return "", nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return "", nil, ErrClosed
	}
	if m.table[e.key] != e || e.sess.Closed() {
		return "", nil, handoff.ErrSessionClosed
	}
	group := []*entry{e}
	if m.browsers != nil && m.cfg.Mode&ByCookie != 0 {
		group = slices.Clone(m.browsers[e.id()])
	}
	for _, x := range group {
		if m.browsers != nil {
			m.forgetBrowserLocked(x)
		}
		if m.table[x.key] != x {
			continue // already replaced; its end will find nothing to do
		}
		delete(m.table, x.key)
		x.key = x.prefix() + id
		m.table[x.key] = x
		if m.browsers != nil {
			m.browsers[id] = append(m.browsers[id], x)
		}
	}
	if m.cfg.Mode&ByCookie != 0 {
		return "", m.cookie(token, r), nil
	}
	return token, nil, nil
}

// makeRoomLocked decides whether the client at ckey may start a session,
// and which session, if any, must make room for it.
func (m *Mapper) makeRoomLocked(ckey netip.Addr, bounded bool) (*entry, error) {
	var own *client
	if bounded {
		own = m.clients[ckey]
	}
	if own != nil {
		if own.refusedUntil != 0 {
			if int64(time.Since(m.epoch)) < own.refusedUntil {
				m.limited.Add(1)
				return nil, ErrClientLimit
			}
			own.refusedUntil = 0
		}
		if m.maxBusy > 0 && own.n >= m.maxBusy && own.busyAtLeast(m.maxBusy) {
			return nil, m.refuseLocked(own)
		}
		if m.maxLive > 0 && own.n >= m.maxLive {
			if v := own.idleVictim(); v != nil {
				return v, nil
			}
			return nil, m.refuseLocked(own)
		}
	}
	if len(m.table) < m.max {
		return nil, nil
	}
	// At the cap. A client holding at least an average share makes room
	// itself: a flood, or bots that come back once to pass the
	// one-request protection, evict their own kind.
	if own != nil && own.n*len(m.clients) >= m.tracked {
		if v := own.idleVictim(); v != nil {
			return v, nil
		}
		return nil, m.refuseLocked(own)
	}
	if v := m.victimLocked(); v != nil {
		return v, nil
	}
	m.refused.Add(1)
	return nil, ErrFull
}

// refuseLocked refuses c's new sessions for clientRefusal.
func (m *Mapper) refuseLocked(c *client) error {
	c.refusedUntil = int64(time.Since(m.epoch) + clientRefusal)
	m.limited.Add(1)
	return ErrClientLimit
}

// victimLocked picks the session to evict: the least recently used idle
// session on probation, else the least recently used idle one that came
// back.
func (m *Mapper) victimLocked() *entry {
	for _, l := range [...]*lru{&m.probation, &m.protected} {
		for e := l.tail; e != nil; e = e.places[inRecency].prev {
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
	if c := e.client; c != nil {
		c.remove(e)
		m.tracked--
		if c.n == 0 {
			delete(m.clients, c.key)
		}
	}
	if m.browsers != nil {
		m.forgetBrowserLocked(e)
	}
}

// forgetBrowserLocked takes e out of its browser's sessions; a browser
// with none left is forgotten, and its ID with it.
func (m *Mapper) forgetBrowserLocked(e *entry) {
	es := m.browsers[e.id()]
	for i, x := range es {
		if x == e {
			es[i] = es[len(es)-1]
			es[len(es)-1] = nil
			es = es[:len(es)-1]
			break
		}
	}
	if len(es) == 0 {
		delete(m.browsers, e.id())
		return
	}
	m.browsers[e.id()] = es
}

// logID is a keyed hash of the session key: stable for the session, useless
// to anyone reading the logs for hijacking it.
func (m *Mapper) logID(key string) string {
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.logKey.sum(sum[:0], key)[:8])
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
	// ClientRefused counts new sessions refused with ErrClientLimit: the
	// client was over its share.
	ClientRefused uint64
	// Ended counts ended sessions by reason: returned, idle, lifetime,
	// evicted, shutdown, panic, unresponsive, divergence, replay_timeout,
	// other.
	Ended map[string]uint64
}

// Stats returns the mapper's counters.
func (m *Mapper) Stats() Stats {
	st := Stats{Created: m.created.Load(), Evicted: m.evicted.Load(), Refused: m.refused.Load(),
		ClientRefused: m.limited.Load(),
		Ended:         make(map[string]uint64, len(endReasons)+1)}
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
		for e := l.head; e != nil; e = e.places[inRecency].next {
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
	m.signalExitedLocked()
	var live []*handoff.Session
	if first {
		// Every session not yet closed is in the table: whoever takes one
		// out (the reaper, eviction, a session's end, a new session under
		// a closed one's key) closes it or finds it closed, and none is
		// added once closed is set.
		live = make([]*handoff.Session, 0, len(m.table))
		for _, e := range m.table {
			live = append(live, e.sess)
		}
	}
	m.mu.Unlock()
	if first {
		close(m.stop)
		for _, s := range live {
			s.Close(handoff.EndShutdown)
		}
	}
	<-m.reaped
	select {
	case <-m.exited:
		return nil // even if ctx is done too
	default:
	}
	select {
	case <-m.exited:
		return nil
	case <-ctx.Done():
		m.mu.Lock()
		n := m.running
		m.mu.Unlock()
		return fmt.Errorf("continuity: %d session goroutines still running: %w", n, ctx.Err())
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
