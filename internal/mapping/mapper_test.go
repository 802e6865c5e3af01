package mapping

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/internal/handoff"
	"github.com/continuity-go/continuity/mapper"
)

const (
	waitMax = 5 * time.Second
	tick    = 2 * time.Millisecond
)

// loop is an application that answers every request and waits for the
// next one.
func loop(r *handoff.Handle) {
	for {
		fmt.Fprint(r, "ok")
		r.Next()
	}
}

// newMapper returns a running mapper closed at the end of the test.
func newMapper(t *testing.T, cfg Config) *Mapper {
	t.Helper()
	if cfg.Session.App == nil {
		cfg.Session.App = loop
	}
	m, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitMax)
		defer cancel()
		require.NoError(t, m.Close(ctx))
	})
	return m
}

func get(target string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// serve hands r to s and returns the response.
func serve(t *testing.T, s *handoff.Session, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	retry := s.Serve(w, r, handoff.Timeouts{Response: waitMax})
	require.False(t, retry)
	return w
}

func ended(s *handoff.Session) func() bool {
	return func() bool { return s.Context().Err() != nil }
}

func TestNewValidatesTheConfig(t *testing.T) {
	key32 := make([]byte, 32)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"nil app", Config{}, "App is nil"},
		{"cookie and query", Config{Mode: ByCookie | ByQuery}, "cannot be combined"},
		{"path alone", Config{Mode: ByPath}, "ByPath alone"},
		{"cookie name with a space", Config{CookieName: "my cid"}, "invalid cookie name"},
		{"cookie name with =", Config{CookieName: "a=b"}, "invalid cookie name"},
		{"cookie name with ;", Config{CookieName: "a;b"}, "invalid cookie name"},
		{"cookie name non-ASCII", Config{CookieName: "cïd"}, "invalid cookie name"},
		{"negative MaxSessions", Config{MaxSessions: -1}, "MaxSessions"},
		{"negative MaxLifetime", Config{MaxLifetime: -time.Second}, "MaxLifetime"},
		{"empty hash key", Config{Keys: []Key{{}}}, "Keys[0].Hash is 0 bytes"},
		{"short hash key", Config{Keys: []Key{{Hash: make([]byte, 16)}}}, "Keys[0].Hash is 16 bytes"},
		{"bad second hash key", Config{Keys: []Key{{Hash: key32}, {Hash: make([]byte, 33)}}}, "Keys[1].Hash is 33 bytes"},
		{"bad block key", Config{Keys: []Key{{Hash: key32, Block: make([]byte, 20)}}}, "Keys[0].Block is 20 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "nil app" {
				tc.cfg.Session.App = loop
			}
			m, err := New(tc.cfg)
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// Valid edge cases are accepted.
	for _, cfg := range []Config{
		{Keys: []Key{{Hash: make([]byte, 64)}}},
		{Keys: []Key{{Hash: key32, Block: make([]byte, 16)}}},
		{Keys: []Key{{Hash: key32, Block: make([]byte, 24)}}},
		{Keys: []Key{{Hash: key32, Block: make([]byte, 32)}}},
		{Mode: ByQuery | ByPath},
		{Mode: ByIP},
		{Mode: ByPath, Identify: func(*http.Request) (string, error) { return "u", nil }},
		{Identify: func(*http.Request) (string, error) { return "u", nil }},
		{IdleTimeout: -1},
	} {
		cfg.Session.App = loop
		m, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, m.Close(context.Background()))
	}
}

func TestSessionMintsSignedCookieAndFindNeverCreates(t *testing.T) {
	m := newMapper(t, Config{})

	s, ok := m.Find(get("/"))
	assert.False(t, ok)
	assert.Nil(t, s)
	assert.Zero(t, m.Len(), "Find never creates a session")

	s1, c, err := m.Session(get("/"))
	require.NoError(t, err)
	require.NotNil(t, c)
	assert.Equal(t, defaultCookieName, c.Name)
	assert.Equal(t, "/", c.Path)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.False(t, c.Secure)
	assert.Equal(t, 1, m.Len())
	assert.Equal(t, "ok", serve(t, s1, get("/")).Body.String())

	// The cookie finds the same session, without a new cookie.
	s2, c2, err := m.Session(get("/", c))
	require.NoError(t, err)
	assert.Same(t, s1, s2)
	assert.Nil(t, c2)
	found, ok := m.Find(get("/", c))
	require.True(t, ok)
	assert.Same(t, s1, found)

	// Garbage and forged cookies find nothing and create nothing.
	for _, v := range []string{"", "x", "attacker", strings.Repeat("A", 2000), c.Value + "x", c.Value[:len(c.Value)-2]} {
		_, ok := m.Find(get("/", &http.Cookie{Name: defaultCookieName, Value: v}))
		assert.False(t, ok, "%.40q", v)
	}
	// Another cookie name does not count.
	_, ok = m.Find(get("/", &http.Cookie{Name: "other", Value: c.Value}))
	assert.False(t, ok)
	assert.Equal(t, 1, m.Len())
	assert.Equal(t, uint64(1), m.Stats().Created)

	// A closed session is not found, and its cookie gets a fresh ID.
	s1.Close(handoff.EndEvicted)
	_, ok = m.Find(get("/", c))
	assert.False(t, ok)
	s3, c3, err := m.Session(get("/", c))
	require.NoError(t, err)
	assert.NotSame(t, s1, s3)
	require.NotNil(t, c3)
	assert.NotEqual(t, c.Value, c3.Value)
}

func TestSessionCookieOptions(t *testing.T) {
	m := newMapper(t, Config{CookieName: "app_sid", CookiePath: "/app/", CookieSecure: true})
	_, c, err := m.Session(get("/app/"))
	require.NoError(t, err)
	assert.Equal(t, "app_sid", c.Name)
	assert.Equal(t, "/app/", c.Path)
	assert.True(t, c.Secure)

	// A TLS request gets Secure even when it is not forced.
	m2 := newMapper(t, Config{})
	r := httptest.NewRequest(http.MethodGet, "https://example.test/", nil)
	require.NotNil(t, r.TLS)
	_, c, err = m2.Session(r)
	require.NoError(t, err)
	assert.True(t, c.Secure)
}

func TestCookieFromAnotherMapperOrKeyIsRejected(t *testing.T) {
	k1 := Key{Hash: []byte(strings.Repeat("1", 32))}
	k2 := Key{Hash: []byte(strings.Repeat("2", 32))}
	a := newMapper(t, Config{Keys: []Key{k1}})
	b := newMapper(t, Config{Keys: []Key{k2}})
	_, ca, err := a.Session(get("/"))
	require.NoError(t, err)
	_, ok := b.Find(get("/", ca))
	assert.False(t, ok)
	_, cb, err := b.Session(get("/", ca))
	require.NoError(t, err)
	require.NotNil(t, cb, "a foreign cookie gets a fresh one")

	// A value signed for another cookie name does not verify either.
	c := newMapper(t, Config{Keys: []Key{k1}, CookieName: "other"})
	_, ok = c.Find(get("/", &http.Cookie{Name: "other", Value: ca.Value}))
	assert.False(t, ok)

	// Rotation: a mapper verifying with both keys accepts the old one's
	// cookie format (the session itself lives in the other mapper, so it
	// is not found, but the ID decodes).
	rot := newMapper(t, Config{Keys: []Key{k2, k1}})
	assert.NotEmpty(t, rot.clientID(get("/", ca)))
	assert.Empty(t, b.clientID(get("/", ca)))
}

func TestQueryModeReadsTheSignedParam(t *testing.T) {
	toks := make(chan string, 1)
	app := func(r *handoff.Handle) {
		toks <- r.SessionToken()
		loop(r)
	}
	m := newMapper(t, Config{Mode: ByQuery, Session: handoff.Options{App: app}})
	s, c, err := m.Session(get("/"))
	require.NoError(t, err)
	assert.Nil(t, c, "query mode sets no cookie")
	assert.Equal(t, "ok", serve(t, s, get("/")).Body.String())
	tok := <-toks
	require.NotEmpty(t, tok)

	found, ok := m.Find(get("/?sid=" + url.QueryEscape(tok)))
	require.True(t, ok)
	assert.Same(t, s, found)
	again, c, err := m.Session(get("/?sid=" + url.QueryEscape(tok)))
	require.NoError(t, err)
	assert.Same(t, s, again)
	assert.Nil(t, c)

	_, ok = m.Find(get("/?sid=forged"))
	assert.False(t, ok)
	// A cookie carrying the token is ignored in query mode.
	_, ok = m.Find(get("/", &http.Cookie{Name: defaultCookieName, Value: tok}))
	assert.False(t, ok)
	// A parsed POST form carries it too.
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("sid="+url.QueryEscape(tok)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	require.NoError(t, r.ParseForm())
	found, ok = m.Find(r)
	require.True(t, ok)
	assert.Same(t, s, found)
}

func TestIPAndPathModes(t *testing.T) {
	ip := newMapper(t, Config{Mode: ByIP})
	r1 := get("/")
	r1.RemoteAddr = "192.0.2.1:1000"
	r1.Header.Set("X-Forwarded-For", "203.0.113.1")
	r2 := get("/other")
	r2.RemoteAddr = "192.0.2.1:2000"
	r2.Header.Set("X-Forwarded-For", "203.0.113.2")
	s1, c, err := ip.Session(r1)
	require.NoError(t, err)
	assert.Nil(t, c, "IP mode sets no cookie")
	s2, _, err := ip.Session(r2)
	require.NoError(t, err)
	assert.Same(t, s1, s2, "one address, one session; spoofed headers ignored")

	// Path mode keys cleaned paths; encoded dots clean as plain ones.
	p := newMapper(t, Config{Mode: ByIP | ByPath})
	var first *handoff.Session
	for _, target := range []string{"/b", "/b/", "//b", "/a/../b", "/%2e%2e/b", "/a/%2E%2E/b"} {
		r := get(target)
		s, _, err := p.Session(r)
		require.NoError(t, err, target)
		if first == nil {
			first = s
		}
		assert.Same(t, first, s, target)
	}
	other, _, err := p.Session(get("/c"))
	require.NoError(t, err)
	assert.NotSame(t, first, other)
	assert.Equal(t, 2, p.Len())

	// Trusted proxies with a garbage chain fail closed.
	tp := newMapper(t, Config{Mode: ByIP, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	r := get("/")
	r.RemoteAddr = "10.0.0.1:80"
	r.Header.Set("X-Forwarded-For", "bogus")
	_, _, err = tp.Session(r)
	assert.ErrorIs(t, err, ErrBadForwardedFor)
	_, ok := tp.Find(r)
	assert.False(t, ok)
	assert.Zero(t, tp.Len())
}

func TestCookieAndPathGivesOneBrowserASessionPerPath(t *testing.T) {
	m := newMapper(t, Config{Mode: ByCookie | ByPath})
	a, c, err := m.Session(get("/a"))
	require.NoError(t, err)
	require.NotNil(t, c)
	b, c2, err := m.Session(get("/b", c))
	require.NoError(t, err)
	assert.NotSame(t, a, b)
	assert.Nil(t, c2, "the browser keeps its ID on a new path")
	again, _, err := m.Session(get("/a/", c))
	require.NoError(t, err)
	assert.Same(t, a, again)
}

func TestNewIDIsUsedAndItsErrorReported(t *testing.T) {
	m := newMapper(t, Config{NewID: mapper.UUID})
	_, c, err := m.Session(get("/"))
	require.NoError(t, err)
	id := m.clientID(get("/", c))
	_, err = uuid.Parse(id)
	assert.NoError(t, err, "the session ID is the minter's %q", id)
	assert.NotContains(t, c.Value, id, "the cookie does not show the bare ID")

	boom := errors.New("entropy exhausted")
	bad := newMapper(t, Config{NewID: func() (string, error) { return "", boom }})
	_, _, err = bad.Session(get("/"))
	assert.ErrorIs(t, err, boom)
	assert.Zero(t, bad.Len())
}

func TestCloseEndsSessionsAndIsIdempotent(t *testing.T) {
	var mu sync.Mutex
	var reasons []error
	m, err := New(Config{Session: handoff.Options{
		App: loop,
		OnEnd: func(_ *handoff.Session, reason error) {
			mu.Lock()
			reasons = append(reasons, reason)
			mu.Unlock()
		},
	}})
	require.NoError(t, err)
	var sessions []*handoff.Session
	var cookies []*http.Cookie
	for range 3 {
		s, c, err := m.Session(get("/"))
		require.NoError(t, err)
		serve(t, s, get("/"))
		sessions = append(sessions, s)
		cookies = append(cookies, c)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitMax)
	defer cancel()
	require.NoError(t, m.Close(ctx))
	require.NoError(t, m.Close(ctx), "Close twice is fine")

	for _, s := range sessions {
		assert.ErrorIs(t, context.Cause(s.Context()), handoff.EndShutdown)
		assert.True(t, s.Closed())
	}
	mu.Lock()
	assert.Equal(t, []error{handoff.EndShutdown, handoff.EndShutdown, handoff.EndShutdown}, reasons)
	mu.Unlock()
	assert.Zero(t, m.Len())

	_, _, err = m.Session(get("/"))
	assert.ErrorIs(t, err, ErrClosed)
	_, _, err = m.Session(get("/", cookies[0]))
	assert.ErrorIs(t, err, ErrClosed)
	_, ok := m.Find(get("/", cookies[0]))
	assert.False(t, ok)
}

// TestCloseLeavesNoGoroutineBehind: a Close whose context ends while a
// session is stuck outside Next (Server.Close passes a cancelled context)
// must not leave a goroutine waiting for that session.
func TestCloseLeavesNoGoroutineBehind(t *testing.T) {
	release := make(chan struct{})
	holding := make(chan struct{})
	stuck := func(r *handoff.Handle) {
		close(holding)
		<-release // ignores the session's context
		r.Next()
	}
	m, err := New(Config{Session: handoff.Options{App: stuck}})
	require.NoError(t, err)
	s, _, err := m.Session(get("/"))
	require.NoError(t, err)
	served := serveAsyncM(s, get("/"))
	<-holding

	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, m.Close(ctx))
	assert.NoError(t, goleak.Find(before), "Close left a goroutine behind")

	close(release)
	<-served
	require.NoError(t, m.Close(context.Background()))
}

func TestEvictionPrefersProbationEntries(t *testing.T) {
	m := newMapper(t, Config{MaxSessions: 2})
	// A came back (protected) but is the least recently used overall.
	a, ca, err := m.Session(get("/"))
	require.NoError(t, err)
	serve(t, a, get("/"))
	again, _, err := m.Session(get("/", ca))
	require.NoError(t, err)
	require.Same(t, a, again)
	serve(t, a, get("/"))
	// B has been seen once (probation), more recently than A.
	b, _, err := m.Session(get("/"))
	require.NoError(t, err)
	serve(t, b, get("/"))

	c, _, err := m.Session(get("/"))
	require.NoError(t, err)
	require.Eventually(t, ended(b), waitMax, tick)
	assert.ErrorIs(t, context.Cause(b.Context()), handoff.EndEvicted)
	assert.NoError(t, a.Context().Err(), "the returning user is kept")
	assert.NoError(t, c.Context().Err())
	assert.Equal(t, uint64(1), m.Stats().Evicted)
	assert.Equal(t, 2, m.Len())

	// With nobody left on probation but C, C goes next; then A.
	d, _, err := m.Session(get("/"))
	require.NoError(t, err)
	require.Eventually(t, ended(c), waitMax, tick)
	assert.NoError(t, a.Context().Err())
	assert.NoError(t, d.Context().Err())
}

func TestEvictionFallsBackToProtectedLRU(t *testing.T) {
	m := newMapper(t, Config{MaxSessions: 2})
	var ss []*handoff.Session
	for range 2 {
		s, c, err := m.Session(get("/"))
		require.NoError(t, err)
		_, _, err = m.Session(get("/", c)) // came back: protected
		require.NoError(t, err)
		ss = append(ss, s)
	}
	_, _, err := m.Session(get("/"))
	require.NoError(t, err)
	require.Eventually(t, ended(ss[0]), waitMax, tick)
	assert.NoError(t, ss[1].Context().Err())
}

// TestAllBusyAtTheCapIsErrFull: at the cap with every session busy, a new
// client gets ErrFull; the client holding the table gets ErrClientLimit
// (it may only make room from its own sessions).
func TestAllBusyAtTheCapIsErrFull(t *testing.T) {
	hold := make(chan struct{})
	holding := make(chan struct{}, 1)
	app := func(r *handoff.Handle) {
		for {
			holding <- struct{}{}
			<-hold
			fmt.Fprint(r, "done")
			r.Next()
		}
	}
	m := newMapper(t, Config{MaxSessions: 1, Session: handoff.Options{App: app}})
	s, _, err := m.Session(get("/"))
	require.NoError(t, err)
	served := make(chan string)
	go func() {
		w := httptest.NewRecorder()
		s.Serve(w, get("/"), handoff.Timeouts{})
		served <- w.Body.String()
	}()
	<-holding
	require.True(t, s.Busy())

	other := get("/")
	other.RemoteAddr = "198.51.100.2:1000"
	_, _, err = m.Session(other)
	assert.ErrorIs(t, err, ErrFull)
	assert.Equal(t, uint64(1), m.Stats().Refused)
	assert.Equal(t, 1, m.Stats().Waiting)
	_, _, err = m.Session(get("/"))
	assert.ErrorIs(t, err, ErrClientLimit)
	assert.Equal(t, uint64(1), m.Stats().ClientRefused)

	close(hold)
	assert.Equal(t, "done", <-served)
	require.Eventually(t, func() bool { return !s.Busy() }, waitMax, tick)
	_, _, err = m.Session(other)
	require.NoError(t, err, "an idle session can be evicted")
	require.Eventually(t, ended(s), waitMax, tick)
}

func TestNegativeIdleTimeoutDisablesReaping(t *testing.T) {
	m := newMapper(t, Config{IdleTimeout: -1})
	assert.Equal(t, 30*time.Second, m.reapInterval())
	s, _, err := m.Session(get("/"))
	require.NoError(t, err)
	m.reapOnce(time.Now().Add(1000 * time.Hour))
	assert.NoError(t, s.Context().Err())
}

func TestReapOnceWithAClock(t *testing.T) {
	m := newMapper(t, Config{IdleTimeout: time.Hour})
	old, _, err := m.Session(get("/"))
	require.NoError(t, err)
	fresh, _, err := m.Session(get("/"))
	require.NoError(t, err)
	now := time.Now()
	// Pretend the first was last seen two hours ago.
	m.mu.Lock()
	for _, e := range m.table {
		if e.sess == old {
			e.touched = int64(now.Add(-2 * time.Hour).Sub(m.epoch))
		}
	}
	m.mu.Unlock()
	// touched alone is not enough: LastSeen must be old too.
	m.reapOnce(now)
	assert.NoError(t, old.Context().Err())
	// Recency runs on the mapper's coarse clock, up to one reaper tick
	// (30s here) ahead of the system clock: a minute past the timeout
	// reaps both.
	m.reapOnce(now.Add(time.Hour + time.Minute))
	require.Eventually(t, ended(old), waitMax, tick)
	require.Eventually(t, ended(fresh), waitMax, tick)
	assert.ErrorIs(t, context.Cause(old.Context()), handoff.EndIdle)
}

func TestReapInterval(t *testing.T) {
	tests := []struct {
		idle, life, want time.Duration
	}{
		{defaultIdleTimeout, 0, 30 * time.Second},
		{time.Minute, 0, 15 * time.Second},
		{100 * time.Millisecond, 0, 25 * time.Millisecond},
		{time.Millisecond, 0, 10 * time.Millisecond},
		{-1, 0, 30 * time.Second},
		{-1, time.Second, 250 * time.Millisecond},
		{time.Hour, 2 * time.Second, 500 * time.Millisecond},
		{400 * time.Millisecond, time.Hour, 100 * time.Millisecond},
		{-1, time.Millisecond, 10 * time.Millisecond},
	}
	for _, tc := range tests {
		m := &Mapper{idle: tc.idle, cfg: Config{MaxLifetime: tc.life}}
		assert.Equal(t, tc.want, m.reapInterval(), "idle %v life %v", tc.idle, tc.life)
	}
}

func TestSessionsAndStats(t *testing.T) {
	m := newMapper(t, Config{})
	a, ca, err := m.Session(get("/"))
	require.NoError(t, err)
	b, _, err := m.Session(get("/"))
	require.NoError(t, err)
	_, _, err = m.Session(get("/", ca)) // a came back: most recent
	require.NoError(t, err)
	assert.Equal(t, []*handoff.Session{a, b}, m.Sessions())
	st := m.Stats()
	assert.Equal(t, 2, st.Live)
	assert.Equal(t, uint64(2), st.Created)
	assert.Zero(t, st.Waiting)
	assert.Zero(t, st.Evicted)
	assert.Zero(t, st.Refused)
	assert.NotEqual(t, a.LogID(), b.LogID())
	assert.Len(t, a.LogID(), 16)
	assert.NotContains(t, ca.Value, a.LogID())
}

// TestSessionClosedButNotYetEndedIsReplacedCleanly: between a session's
// context being cancelled and its OnEnd bookkeeping (here the app closed
// its own session and is still finishing), a request for the same key (IP
// or path mode) creates a replacement. The stale entry must leave the
// recency lists, and evicting it must not unmap the live replacement.
func TestSessionClosedButNotYetEndedIsReplacedCleanly(t *testing.T) {
	closedSelf := make(chan struct{})
	release := make(chan struct{})
	var first sync.Once
	app := func(r *handoff.Handle) {
		isFirst := false
		first.Do(func() { isFirst = true })
		if isFirst {
			r.Session().Close(handoff.EndReturned) // e.g. a logout
			close(closedSelf)
			<-release // still finishing the response
			fmt.Fprint(r, "bye")
			return
		}
		loop(r)
	}
	m := newMapper(t, Config{Mode: ByIP, MaxSessions: 2, Session: handoff.Options{App: app}})
	from := func(ip string) *http.Request {
		r := get("/")
		r.RemoteAddr = ip + ":1000"
		return r
	}
	const a, b, c = "192.0.2.1", "192.0.2.2", "192.0.2.3"

	s1, _, err := m.Session(from(a))
	require.NoError(t, err)
	done := serveAsyncM(s1, from(a))
	<-closedSelf
	s2, _, err := m.Session(from(a)) // s1 is closed: a replacement
	require.NoError(t, err)
	require.NotSame(t, s1, s2)
	close(release)
	assert.Equal(t, "bye", (<-done).Body.String())
	require.Eventually(t, func() bool {
		select {
		case <-s1.Context().Done():
		default:
			return false
		}
		return !s1.Busy()
	}, waitMax, tick)
	serve(t, s2, from(a))

	m.mu.Lock()
	inLists := m.probation.n + m.protected.n
	m.mu.Unlock()
	assert.Equal(t, m.Len(), inLists, "every list entry is in the table and vice versa")

	_, _, err = m.Session(from(b))
	require.NoError(t, err)
	// At the cap, C evicts the least recently used idle session: s2.
	_, _, err = m.Session(from(c))
	require.NoError(t, err)
	found, ok := m.Find(from(a))
	assert.True(t, (ok && found == s2) || s2.Context().Err() != nil,
		"s2 is neither reachable nor ended: an orphaned session goroutine")
	_, _, err = m.Session(from(a))
	require.NoError(t, err)
	assert.LessOrEqual(t, m.Len(), 2, "the table stays within MaxSessions")
	m.mu.Lock()
	inLists = m.probation.n + m.protected.n
	m.mu.Unlock()
	assert.Equal(t, m.Len(), inLists, "every list entry is in the table and vice versa")
}

func serveAsyncM(s *handoff.Session, r *http.Request) <-chan *httptest.ResponseRecorder {
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		w := httptest.NewRecorder()
		s.Serve(w, r, handoff.Timeouts{})
		out <- w
	}()
	return out
}

// TestIdleAccountingIsMonotonic: recency must not follow the wall clock,
// or a wall-clock jump past IdleTimeout reaps every idle session at once.
// A jump cannot be staged in-process, so this checks the mechanism: the
// coarse clock counts from the mapper's start, and LastSeen carries a
// monotonic reading (which time.Time.Sub prefers over the wall clock).
func TestIdleAccountingIsMonotonic(t *testing.T) {
	m := newMapper(t, Config{})
	s, _, err := m.Session(get("/"))
	require.NoError(t, err)
	serve(t, s, get("/"))
	assert.Less(t, m.clock.Load(), int64(time.Hour), "the clock holds wall-clock nanoseconds")
	seen := s.LastSeen()
	assert.NotEqual(t, seen.Round(0), seen, "LastSeen has no monotonic reading")
	assert.WithinDuration(t, time.Now(), seen, time.Minute)
}

func TestAdmitGetsTheClientResolvedThroughTrustedProxies(t *testing.T) {
	for _, mode := range []Mode{ByCookie, ByQuery, ByIP, ByCookie | ByPath} {
		var got []netip.Addr
		m := newMapper(t, Config{
			Mode:           mode,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			Admit: func(_ *http.Request, client netip.Addr) error {
				got = append(got, client)
				return nil
			},
		})
		r := get("/")
		r.RemoteAddr = "10.0.0.1:80"
		r.Header.Set("X-Forwarded-For", "198.51.100.7, 203.0.113.5, 10.0.0.2")
		_, _, err := m.Session(r)
		require.NoError(t, err)
		r = get("/")
		r.RemoteAddr = "192.0.2.9:80"
		r.Header.Set("X-Forwarded-For", "203.0.113.5") // untrusted peer: ignored
		_, _, err = m.Session(r)
		require.NoError(t, err)
		r = get("/")
		r.RemoteAddr = "@" // a Unix socket peer
		if mode&ByIP == 0 {
			_, _, err = m.Session(r)
			require.NoError(t, err)
			assert.Equal(t, []netip.Addr{netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("192.0.2.9"), {}}, got, "mode %v", mode)
		} else {
			assert.Equal(t, []netip.Addr{netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("192.0.2.9")}, got)
		}
		r = get("/")
		r.RemoteAddr = "10.0.0.1:80"
		r.Header.Set("X-Forwarded-For", "bogus")
		_, _, err = m.Session(r)
		assert.ErrorIs(t, err, ErrBadForwardedFor, "mode %v", mode)
	}
}

// entryOf returns s's entry in m's table.
func entryOf(t *testing.T, m *Mapper, s *handoff.Session) *entry {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.table {
		if e.sess == s {
			return e
		}
	}
	t.Fatal("session not in the table")
	return nil
}

// TestRenewInQueryPathModeMovesOnlyThatSession: a query token travels with
// the pages, not with a browser, so the browser's other sessions keep the
// token their pages carry.
func TestRenewInQueryPathModeMovesOnlyThatSession(t *testing.T) {
	m := newMapper(t, Config{Mode: ByQuery | ByPath})
	a, _, err := m.Session(get("/a"))
	require.NoError(t, err)
	ea := entryOf(t, m, a)
	tok, err := securecookie.EncodeMulti(defaultQueryParam, []byte(ea.id()), m.codecs...)
	require.NoError(t, err)
	q := "?sid=" + url.QueryEscape(tok)
	b, _, err := m.Session(get("/b" + q))
	require.NoError(t, err)
	require.NotSame(t, a, b)

	renewed, c, err := m.renew(ea, get("/a"+q))
	require.NoError(t, err)
	assert.Nil(t, c)
	require.NotEqual(t, tok, renewed)
	nq := "?sid=" + url.QueryEscape(renewed)
	found := func(target string) *handoff.Session {
		s, _ := m.Find(get(target))
		return s
	}
	assert.Nil(t, found("/a"+q))
	assert.Same(t, a, found("/a"+nq))
	assert.Same(t, b, found("/b"+q))
	assert.Nil(t, found("/b"+nq))

	// No ID, nothing to renew.
	ip := newMapper(t, Config{Mode: ByIP})
	s, _, err := ip.Session(get("/"))
	require.NoError(t, err)
	_, _, err = ip.renew(entryOf(t, ip, s), get("/"))
	assert.ErrorIs(t, err, errNoID)
}

// TestOnlyTheFirstFewSameNameCookiesAreTried: every signed-looking cookie
// costs an HMAC check; hundreds of them in one request must not.
func TestOnlyTheFirstFewSameNameCookiesAreTried(t *testing.T) {
	m := newMapper(t, Config{})
	s, c, err := m.Session(get("/"))
	require.NoError(t, err)
	other := newMapper(t, Config{})
	_, forged, err := other.Session(get("/")) // well formed, another key
	require.NoError(t, err)
	withBefore := func(n int) *http.Request {
		r := get("/")
		for range n {
			r.AddCookie(&http.Cookie{Name: defaultCookieName, Value: forged.Value})
		}
		r.AddCookie(c)
		return r
	}
	got, ok := m.Find(withBefore(maxCookiesTried - 1))
	require.True(t, ok, "the valid cookie among the first few is found")
	assert.Same(t, s, got)
	for _, n := range []int{maxCookiesTried, 500} {
		_, ok = m.Find(withBefore(n))
		assert.False(t, ok, "cookie number %d was tried", n+1)
	}
}
