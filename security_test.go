package continuity_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

func sessionCookie(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSessionCookieAttributes(t *testing.T) {
	srv, err := continuity.New(counter, &continuity.Options{Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	for _, tc := range []struct {
		name   string
		tls    bool
		secure bool
	}{{"plain HTTP", false, false}, {"TLS", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			if tc.tls {
				ts := httpsServer(t, srv)
				c := ts.Client()
				resp, err = c.Get(ts.URL + "/")
			} else {
				ts := plainServer(t, srv)
				resp, err = http.Get(ts.URL + "/")
			}
			require.NoError(t, err)
			resp.Body.Close()
			raw := resp.Header.Get("Set-Cookie")
			c := sessionCookie(t, resp, "cid")
			require.NotNil(t, c, raw)
			assert.True(t, c.HttpOnly)
			assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
			assert.Equal(t, "/", c.Path)
			assert.Empty(t, c.Domain)
			assert.Zero(t, c.MaxAge, "a session cookie, not a persistent one")
			assert.Equal(t, tc.secure, c.Secure)
		})
	}
}

func TestForgedAndGarbageCookiesGetAFreshSession(t *testing.T) {
	var minted atomic.Int32
	opts := &continuity.Options{Logger: quietLogger(), NewID: func() (string, error) {
		return fmt.Sprintf("id-%06d-abcdefghijklmnopqrstuvwxyz", minted.Add(1)), nil
	}}
	_, ts := start(t, counter, opts)
	other, err := continuity.New(counter, &continuity.Options{Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	otherTS := plainServer(t, other)
	resp, err := http.Get(otherTS.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	foreign := sessionCookie(t, resp, "cid").Value

	for _, tc := range []struct{ name, value string }{
		{"attacker-chosen plain ID", "attacker"},
		{"raw minted ID without signature", "id-000001-abcdefghijklmnopqrstuvwxyz"},
		{"signed by another server", foreign},
		{"truncated", foreign[:len(foreign)/2]},
		{"bit flipped", flip(foreign)},
		{"4097 bytes", strings.Repeat("A", 4097)},
		{"1 MiB", strings.Repeat("B", 1<<20-100)},
		{"non-ASCII", "caf\u00e9\u2603"},
		{"NUL", "%00"},
		{"equals signs", "===="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
			req.Header.Set("Cookie", "cid="+tc.value)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
				return // net/http refused the header before we saw it
			}
			require.Equal(t, http.StatusOK, resp.StatusCode)
			c := sessionCookie(t, resp, "cid")
			require.NotNil(t, c, "a fresh, server-minted ID is issued")
			assert.NotEqual(t, tc.value, c.Value)
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

func TestUnknownSignedIDIsNotResurrected(t *testing.T) {
	app := func(r *continuity.Request) { r.Print("once") } // ends at once
	srv, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	resp, err := http.Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	old := sessionCookie(t, resp, "cid")
	require.NotNil(t, old)
	require.Eventually(t, func() bool { return srv.Metrics().LiveSessions == 0 }, testTimeout, tick)

	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	req.AddCookie(old)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	fresh := sessionCookie(t, resp, "cid")
	require.NotNil(t, fresh, "strict mode: a new ID, not the old one")
	assert.NotEqual(t, old.Value, fresh.Value)
}

func TestTwoServersDoNotShareSessions(t *testing.T) {
	_, a := start(t, counter, &continuity.Options{Logger: quietLogger()})
	_, b := start(t, counter, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	get(t, c, a.URL+"/")
	get(t, c, a.URL+"/")
	// Both listen on 127.0.0.1, so the jar sends a's cookie to b as well.
	_, body := get(t, c, b.URL+"/")
	assert.Equal(t, "1", body, "b does not accept a's cookie")
	_, body = get(t, c, b.URL+"/")
	assert.Equal(t, "2", body, "b's own cookie replaced a's in the jar")
}

func TestLogsCarryHashedIDsOnly(t *testing.T) {
	logs := &logBuffer{}
	const id = "raw-session-id-that-must-not-be-logged-0001"
	app := func(r *continuity.Request) { r.Print("bye") }
	srv, ts := start(t, app, &continuity.Options{
		Logger: newLogger(logs),
		NewID:  func() (string, error) { return id, nil },
	})
	resp, err := http.Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Eventually(t, func() bool { return srv.Metrics().LiveSessions == 0 }, testTimeout, tick)
	out := logs.String()
	assert.Contains(t, out, "session start")
	assert.Contains(t, out, "session end")
	assert.NotContains(t, out, id)
	assert.NotContains(t, out, sessionCookie(t, resp, "cid").Value)
}

func TestMethodsNotAllowedGet405AndNoSession(t *testing.T) {
	srv, ts := start(t, counter, &continuity.Options{Logger: quietLogger()})
	for _, m := range []string{"PUT", "DELETE", "PATCH", "TRACE", "OPTIONS", "BREW"} {
		req, _ := http.NewRequest(m, ts.URL+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, m)
		assert.Equal(t, "GET, HEAD, POST", resp.Header.Get("Allow"), m)
		assert.Empty(t, resp.Header.Values("Set-Cookie"), m)
	}
	assert.Zero(t, srv.Metrics().SessionsCreated)
}

func TestBadBodiesAndQueriesAreRefusedAndTheSessionSurvives(t *testing.T) {
	_, ts := start(t, counter, &continuity.Options{MaxBodyBytes: 1 << 10, MaxFormFields: 10, Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")

	big := url.Values{"x": {strings.Repeat("y", 2<<10)}}
	resp, err := c.PostForm(ts.URL+"/", big)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	many := url.Values{}
	for i := range 11 {
		many.Set(fmt.Sprint("f", i), "v")
	}
	resp, err = c.PostForm(ts.URL+"/", many)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	code, _ := get(t, c, ts.URL+"/?a=%zz")
	assert.Equal(t, http.StatusBadRequest, code)

	_, body := get(t, c, ts.URL+"/")
	assert.Equal(t, "2", body, "refused requests never reached the session")
}

func TestCrossSitePostIsRefused(t *testing.T) {
	_, ts := start(t, counter, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader("a=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, body := get(t, c, ts.URL+"/")
	assert.Equal(t, "2", body)
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		app  func(*continuity.Request)
		opts continuity.Options
		want string
	}{
		{"nil app", nil, continuity.Options{}, "app is nil"},
		{"short hash key", counter, continuity.Options{Keys: []continuity.Key{{Hash: []byte("short")}}}, "Hash is 5 bytes"},
		{"bad block key", counter, continuity.Options{Keys: []continuity.Key{{Hash: make([]byte, 32), Block: make([]byte, 7)}}}, "Block is 7 bytes"},
		{"cookie and query", counter, continuity.Options{Mode: continuity.ByCookie | continuity.ByQuery}, "cannot be combined"},
		{"negative cap", counter, continuity.Options{MaxSessions: -1}, "MaxSessions"},
		{"bad cookie name", counter, continuity.Options{CookieName: "a b"}, "cookie name"},
		{"missing docroot", counter, continuity.Options{DocRoot: "/does/not/exist"}, "/does/not/exist"},
		{"bad method", counter, continuity.Options{Methods: []string{"GET, POST"}}, "invalid method"},
		{"SameSite=None cookie", counter, continuity.Options{CookieSameSite: http.SameSiteNoneMode}, "CookieSameSite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := continuity.New(tc.app, &tc.opts)
			require.Error(t, err)
			assert.Nil(t, srv)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestQueryMode(t *testing.T) {
	app := func(r *continuity.Request) {
		for i := 1; ; i++ {
			r.Printf("%d %s", i, r.SessionToken())
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Mode: continuity.ByQuery, Logger: quietLogger()})
	resp, err := http.Get(ts.URL + "/")
	require.NoError(t, err)
	var n int
	var tok string
	fmt.Fscan(resp.Body, &n, &tok)
	resp.Body.Close()
	require.Equal(t, 1, n)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))

	_, body := get(t, http.DefaultClient, ts.URL+"/?sid="+url.QueryEscape(tok))
	assert.Equal(t, "2 "+tok, body)
	_, body = get(t, http.DefaultClient, ts.URL+"/?sid=forged")
	assert.True(t, strings.HasPrefix(body, "1 "), body)
}

func TestIPModeIgnoresForwardedHeadersUnlessTrusted(t *testing.T) {
	_, ts := start(t, counter, &continuity.Options{Mode: continuity.ByIP, Logger: quietLogger()})
	for i, spoof := range []string{"1.2.3.4", "5.6.7.8"} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		req.Header.Set("X-Forwarded-For", spoof)
		req.Header.Set("X-Real-IP", spoof)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var n int
		fmt.Fscan(resp.Body, &n)
		resp.Body.Close()
		assert.Equal(t, i+1, n, "one socket address, one session, whatever the headers say")
	}

	_, proxied := start(t, counter, &continuity.Options{
		Mode:           continuity.ByIP,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:         quietLogger(),
	})
	fetch := func(xff string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, proxied.URL+"/", nil)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var n int
		fmt.Fscan(resp.Body, &n)
		return resp.StatusCode, fmt.Sprint(n)
	}
	_, n := fetch("203.0.113.9")
	assert.Equal(t, "1", n)
	_, n = fetch("198.51.100.1, 203.0.113.9")
	assert.Equal(t, "2", n, "the rightmost untrusted hop is the client")
	_, n = fetch("203.0.113.10")
	assert.Equal(t, "1", n)
	code, _ := fetch("203.0.113.9, garbage")
	assert.Equal(t, http.StatusBadRequest, code, "fail closed on a malformed chain")
}

func TestPathModeGivesOneBrowserASessionPerPath(t *testing.T) {
	srv, ts := start(t, counter, &continuity.Options{Mode: continuity.ByCookie | continuity.ByPath, Logger: quietLogger()})
	c := browser(t)
	for _, step := range []struct{ path, want string }{
		{"/a", "1"}, {"/a", "2"}, {"/b", "1"}, {"/a/../b", "2"}, {"//b/", "3"}, {"/a", "3"},
	} {
		_, body := get(t, c, ts.URL+step.path)
		assert.Equal(t, step.want, body, step.path)
	}
	assert.Equal(t, 2, srv.Metrics().LiveSessions)
	_, body := get(t, browser(t), ts.URL+"/a")
	assert.Equal(t, "1", body, "another browser has its own sessions")
}

func TestMountedUnderAPrefix(t *testing.T) {
	app := func(r *continuity.Request) {
		for i := 1; ; i++ {
			r.Printf("%s %d", r.Path(), i)
			r.Next()
		}
	}
	srv, err := continuity.New(app, &continuity.Options{CookiePath: "/app/", Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", srv))
	ts := plainServer(t, mux)
	c := browser(t)
	_, body := get(t, c, ts.URL+"/app/")
	assert.Equal(t, "/ 1", body)
	resp, err := c.Get(ts.URL + "/app/x")
	require.NoError(t, err)
	resp.Body.Close()
	_, body = get(t, c, ts.URL+"/app/y")
	assert.Equal(t, "/y 3", body)
}

func httpsServer(t *testing.T, h http.Handler) *httptestServer {
	t.Helper()
	ts := newHTTPTest(h, true)
	t.Cleanup(ts.Close)
	return ts
}

func plainServer(t *testing.T, h http.Handler) *httptestServer {
	t.Helper()
	ts := newHTTPTest(h, false)
	t.Cleanup(ts.Close)
	return ts
}

func TestAStaleSameNameCookieDoesNotHideTheValidOne(t *testing.T) {
	_, ts := start(t, counter, &continuity.Options{Logger: quietLogger()})
	resp, err := http.Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	valid := sessionCookie(t, resp, "cid").Value
	for want := 2; want <= 3; want++ {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		req.Header.Set("Cookie", "cid=stale; cid="+valid)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(want), readAll(t, resp))
		assert.Empty(t, resp.Header.Values("Set-Cookie"))
	}
}
