package continuity_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// TestPathAloneIsRefused: ByPath alone would give every browser that
// visits a path the same session (one user sees another's flow).
func TestPathAloneIsRefused(t *testing.T) {
	srv, err := continuity.New(counter, &continuity.Options{Mode: continuity.ByPath, Logger: quietLogger()})
	require.Error(t, err)
	assert.Nil(t, srv)
	assert.Contains(t, err.Error(), "ByPath alone")
}

// TestSessionTokenIsEmptyOutsideQueryMode: in cookie modes the token is
// the HttpOnly cookie's value; an app that prints it would put it where
// any script on the page can read it.
func TestSessionTokenIsEmptyOutsideQueryMode(t *testing.T) {
	app := func(r *continuity.Request) {
		for {
			r.Printf("[%s]", r.SessionToken())
			r.Next()
		}
	}
	for _, mode := range []continuity.Mode{continuity.ByCookie, continuity.ByCookie | continuity.ByPath, continuity.ByIP} {
		_, ts := start(t, app, &continuity.Options{Mode: mode, Logger: quietLogger()})
		c := browser(t)
		for range 2 {
			_, body := get(t, c, ts.URL+"/")
			assert.Equal(t, "[]", body, "mode %v", mode)
		}
	}
}

// fetchAs GETs url as the client at addr behind a trusted proxy on
// loopback (X-Forwarded-For), with c's cookies.
func fetchAs(t *testing.T, c *http.Client, url, addr string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if addr != "" {
		req.Header.Set("X-Forwarded-For", addr)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestNewSessionsPerIPCountsTheClientBehindATrustedProxy: behind a trusted
// proxy every browser arrives from the proxy's address; the limit must
// count the client the mapper resolves, not the proxy.
func TestNewSessionsPerIPCountsTheClientBehindATrustedProxy(t *testing.T) {
	_, ts := start(t, counter, &continuity.Options{
		NewSessionsPerIP: 2,
		TrustedProxies:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:           quietLogger(),
	})
	for _, addr := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "2001:db8::1"} {
		code, body := fetchAs(t, browser(t), ts.URL+"/", addr)
		assert.Equal(t, http.StatusOK, code, "client %s: %s", addr, body)
	}
	// One client's third new session is over the limit; so is a third
	// address in the same IPv6 /64.
	for _, addr := range []string{"203.0.113.1", "2001:db8::2"} {
		code, _ := fetchAs(t, browser(t), ts.URL+"/", addr)
		require.Equal(t, http.StatusOK, code, addr)
	}
	for _, addr := range []string{"203.0.113.1", "2001:db8::3"} {
		code, _ := fetchAs(t, browser(t), ts.URL+"/", addr)
		assert.Equal(t, http.StatusTooManyRequests, code, addr)
	}
}

// renewApp counts requests and calls RenewID on /login (or with ?renew).
func renewApp(r *continuity.Request) {
	for i := 1; ; i++ {
		if r.Path() == "/login" || r.Param("renew") != "" {
			if err := r.RenewID(); err != nil {
				r.Printf("error: %v\n", err)
			}
		}
		if r.Param("late") != "" {
			r.Print("written first\n")
			if err := r.RenewID(); err != nil {
				r.Printf("error: %v\n", err)
			}
		}
		r.Printf("%d %s", i, r.SessionToken())
		r.Next()
	}
}

func cookieValue(t *testing.T, c *http.Client, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// withCookie is a cookieless client's GET carrying one cid cookie.
func withCookie(t *testing.T, rawURL, value string) (int, string, []string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "cid", Value: value})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header.Values("Set-Cookie")
}

func TestRenewIDInCookieMode(t *testing.T) {
	_, ts := start(t, renewApp, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	_, body := get(t, c, ts.URL+"/")
	assert.Equal(t, "1 ", body)
	old := cookieValue(t, c, ts.URL, "cid")
	require.NotEmpty(t, old)

	resp, err := c.Get(ts.URL + "/login")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "2 ", string(b))
	require.Len(t, resp.Header.Values("Set-Cookie"), 1, "one cookie, the new one")
	renewed := cookieValue(t, c, ts.URL, "cid")
	assert.NotEqual(t, old, renewed)

	_, body = get(t, c, ts.URL+"/")
	assert.Equal(t, "3 ", body, "the new cookie reaches the session")
	_, body, set := withCookie(t, ts.URL+"/", old)
	assert.Equal(t, "1 ", body, "the old cookie no longer reaches the session")
	assert.Len(t, set, 1, "it gets a fresh ID")
	_, body = get(t, c, ts.URL+"/")
	assert.Equal(t, "4 ", body)

	// After the response head is sent it is too late for a cookie.
	_, body = get(t, c, ts.URL+"/?late=1")
	assert.Contains(t, body, "written first\nerror: ")
	assert.Contains(t, body, "already sent")
	assert.Equal(t, renewed, cookieValue(t, c, ts.URL, "cid"))
	_, body = get(t, c, ts.URL+"/")
	assert.Equal(t, "6 ", body)

	// On a new session's first request the server's cookie is replaced,
	// not joined, by the renewed one.
	fresh := browser(t)
	resp, err = fresh.Get(ts.URL + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Len(t, resp.Header.Values("Set-Cookie"), 1)
	_, body = get(t, fresh, ts.URL+"/")
	assert.Equal(t, "2 ", body)
}

// TestRenewIDStopsQueryModeFixation: an attacker plants his own token in a
// link; the victim logs in under it; RenewID at login leaves the attacker
// holding a dead token.
func TestRenewIDStopsQueryModeFixation(t *testing.T) {
	_, ts := start(t, renewApp, &continuity.Options{Mode: continuity.ByQuery, Logger: quietLogger()})
	_, body := get(t, http.DefaultClient, ts.URL+"/")
	planted := strings.TrimPrefix(body, "1 ")
	require.NotEmpty(t, planted)

	// The victim follows the attacker's link, then logs in.
	_, body = get(t, http.DefaultClient, ts.URL+"/?sid="+url.QueryEscape(planted))
	assert.Equal(t, "2 "+planted, body)
	_, body = get(t, http.DefaultClient, ts.URL+"/login?sid="+url.QueryEscape(planted))
	require.True(t, strings.HasPrefix(body, "3 "), body)
	renewed := strings.TrimPrefix(body, "3 ")
	assert.NotEqual(t, planted, renewed, "SessionToken is the new token")

	_, body = get(t, http.DefaultClient, ts.URL+"/?sid="+url.QueryEscape(planted))
	assert.True(t, strings.HasPrefix(body, "1 "), "the attacker's token is dead: %s", body)
	_, body = get(t, http.DefaultClient, ts.URL+"/?sid="+url.QueryEscape(renewed))
	assert.Equal(t, "4 "+renewed, body, "the victim carries on")
}

// TestRenewIDInCookiePathMode: the cookie names the browser, so RenewID
// renews the browser ID and every one of its sessions follows.
func TestRenewIDInCookiePathMode(t *testing.T) {
	_, ts := start(t, renewApp, &continuity.Options{Mode: continuity.ByCookie | continuity.ByPath, Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/a")
	get(t, c, ts.URL+"/b")
	old := cookieValue(t, c, ts.URL, "cid")
	_, body := get(t, c, ts.URL+"/a?renew=1")
	assert.Equal(t, "2 ", body)
	require.NotEqual(t, old, cookieValue(t, c, ts.URL, "cid"))
	_, body = get(t, c, ts.URL+"/a")
	assert.Equal(t, "3 ", body)
	_, body = get(t, c, ts.URL+"/b")
	assert.Equal(t, "2 ", body, "the browser's other session follows the new ID")
	for _, p := range []string{"/a", "/b", "/c"} {
		_, body, set := withCookie(t, ts.URL+p, old)
		assert.Equal(t, "1 ", body, p)
		assert.Len(t, set, 1, p)
	}
}

func TestRenewIDWithoutAnIDIsAnError(t *testing.T) {
	for _, mode := range []continuity.Mode{continuity.ByIP, continuity.ByIP | continuity.ByPath} {
		_, ts := start(t, renewApp, &continuity.Options{Mode: mode, Logger: quietLogger()})
		_, body := get(t, http.DefaultClient, ts.URL+"/login")
		assert.Contains(t, body, "error: ", "mode %v", mode)
		assert.Contains(t, body, "no session ID to renew")
		assert.True(t, strings.HasSuffix(body, "1 "), body)
		_, body = get(t, http.DefaultClient, ts.URL+"/login")
		assert.True(t, strings.HasSuffix(body, "2 "), "the session carries on: %s", body)
	}
}

var (
	hrefRE   = regexp.MustCompile(`<a href="([^"]*)">`)
	formRE   = regexp.MustCompile(`(?s)<form method="(get|post)">(.*?)</form>`)
	inputRE  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	buttonRE = regexp.MustCompile(`<button type="submit" name="([^"]*)" value="([^"]*)">`)
)

// submit does what a browser does with the form's first button: GET
// replaces the action's query with the fields, POST sends them as the
// body; the action is the page's own URL.
func submit(t *testing.T, page *url.URL, method, form string) (int, string, *url.URL) {
	t.Helper()
	fields := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(form, -1) {
		fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	b := buttonRE.FindStringSubmatch(form)
	require.NotNil(t, b, form)
	fields.Add(html.UnescapeString(b[1]), html.UnescapeString(b[2]))
	var resp *http.Response
	var err error
	if method == "get" {
		u := *page
		u.RawQuery = fields.Encode()
		resp, err = http.Get(u.String())
	} else {
		resp, err = http.PostForm(page.String(), fields)
	}
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Request.URL
}

// TestCallbacksKeepTheSessionInQueryMode: with no cookie jar, the session
// travels only in the URL: callback links and buttons (in GET and POST
// forms) must carry it, or the click lands in a new session.
func TestCallbacksKeepTheSessionInQueryMode(t *testing.T) {
	app := func(r *continuity.Request) {
		n := 0
		for {
			r.RunCallbacks()
			r.Printf(`<p>n=%d</p>%s`, n, r.Link("+1", func() { n++ }))
			r.Printf(`<form method="get">%s</form>`, r.Button("+10", func() { n += 10 }))
			r.Printf(`<form method="post">%s</form>`, r.Button("+100", func() { n += 100 }))
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Mode: continuity.ByQuery, QueryParam: "s&id", Logger: quietLogger()})
	resp, err := http.Get(ts.URL + "/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body, page := string(b), resp.Request.URL
	require.Contains(t, body, "n=0")

	follow := func() {
		t.Helper()
		m := hrefRE.FindStringSubmatch(body)
		require.NotNil(t, m, body)
		ref, err := url.Parse(html.UnescapeString(m[1]))
		require.NoError(t, err)
		resp, err := http.Get(page.ResolveReference(ref).String())
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body, page = string(b), resp.Request.URL
	}
	follow()
	assert.Contains(t, body, "n=1", "the link lost the session")
	forms := formRE.FindAllStringSubmatch(body, -1)
	require.Len(t, forms, 2)
	_, body, page = submit(t, page, forms[0][1], forms[0][2])
	assert.Contains(t, body, "n=11", "the GET form's button lost the session")
	forms = formRE.FindAllStringSubmatch(body, -1)
	require.Len(t, forms, 2)
	_, body, page = submit(t, page, forms[1][1], forms[1][2])
	assert.Contains(t, body, "n=111", "the POST form's button lost the session")
	follow()
	assert.Contains(t, body, "n=112")
}

type userKey struct{}

// authenticate stands in for an application's authentication middleware:
// it puts the user a (fake) bearer token names into the request context.
func authenticate(next http.Handler) http.Handler {
	users := map[string]string{"Bearer tok-alice": "alice", "Bearer tok-bob": "bob", "Bearer tok-broken": ""}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := users[r.Header.Get("Authorization")]; ok {
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		}
		next.ServeHTTP(w, r)
	})
}

func identifyUser(r *http.Request) (string, error) {
	u, ok := r.Context().Value(userKey{}).(string)
	if !ok {
		return "", errors.New("not logged in")
	}
	return u, nil // "" for the broken token: refused too
}

// startIdentified runs counter behind authenticate with Identify.
func startIdentified(t *testing.T, mode continuity.Mode, logs io.Writer) (*continuity.Server, string) {
	t.Helper()
	srv, err := continuity.New(counter, &continuity.Options{Mode: mode, Identify: identifyUser, Logger: newLogger(logs)})
	require.NoError(t, err)
	ts := plainServer(t, authenticate(srv))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return srv, ts.URL
}

func getAs(t *testing.T, c *http.Client, url, token string) (int, string, []string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header.Values("Set-Cookie")
}

// TestIdentifyKeysSessionsByTheAuthenticatedUser: with Identify alone,
// the user an upstream middleware authenticated keys the session, from
// any client; no cookie is set; an unidentified request gets 403 and no
// session; the identity never reaches the logs.
func TestIdentifyKeysSessionsByTheAuthenticatedUser(t *testing.T) {
	var logs logBuffer
	srv, base := startIdentified(t, 0, &logs)
	for i, c := range []*http.Client{browser(t), http.DefaultClient, browser(t)} {
		code, body, set := getAs(t, c, base+"/", "tok-alice")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, fmt.Sprint(i+1), body, "alice's session, from any client")
		assert.Empty(t, set, "no cookie: the identity keys the session")
	}
	_, body, _ := getAs(t, browser(t), base+"/", "tok-bob")
	assert.Equal(t, "1", body, "bob has his own session")
	for _, tok := range []string{"", "tok-broken", "tok-mallory"} {
		code, body, _ := getAs(t, browser(t), base+"/", tok)
		assert.Equal(t, http.StatusForbidden, code, tok)
		assert.Contains(t, body, "not identified", tok)
	}
	assert.Equal(t, 2, srv.Metrics().LiveSessions, "refused requests start no session")
	assert.NotContains(t, logs.String(), "alice")
	assert.NotContains(t, logs.String(), "bob")
	assert.NotContains(t, logs.String(), "not logged in")
}

// TestIdentifyCombinesWithCookieAndPath: ByCookie with Identify gives each
// user one session per browser, and a cookie taken from one user's
// browser does not reach that session as another user; ByPath one
// session per user and path.
func TestIdentifyCombinesWithCookieAndPath(t *testing.T) {
	_, base := startIdentified(t, continuity.ByCookie, nil)
	c1, c2 := browser(t), browser(t)
	for want := 1; want <= 2; want++ {
		_, body, _ := getAs(t, c1, base+"/", "tok-alice")
		assert.Equal(t, fmt.Sprint(want), body)
	}
	_, body, set := getAs(t, c2, base+"/", "tok-alice")
	assert.Equal(t, "1", body, "alice's other browser has its own session")
	assert.Len(t, set, 1)
	_, body, _ = getAs(t, c1, base+"/", "tok-bob")
	assert.Equal(t, "1", body, "alice's cookie under bob's identity is not alice's session")
	_, body, _ = getAs(t, c1, base+"/", "tok-alice")
	assert.Equal(t, "1", body, "bob's visit gave the browser his cookie; alice starts afresh")

	_, base = startIdentified(t, continuity.ByPath, nil)
	for _, step := range []struct{ tok, path, want string }{
		{"tok-alice", "/a", "1"}, {"tok-alice", "/a", "2"}, {"tok-alice", "/b", "1"},
		{"tok-bob", "/a", "1"}, {"tok-alice", "/a", "3"},
	} {
		_, body, _ := getAs(t, http.DefaultClient, base+step.path, step.tok)
		assert.Equal(t, step.want, body, "%s %s", step.tok, step.path)
	}
}

// Identify runs once per request, also for a POST with a body, which the
// server looks up before reading the body (to refuse it unread if the
// session is too busy) and again to hand it over.
func TestIdentifyRunsOncePerRequest(t *testing.T) {
	var calls atomic.Int32
	app := func(r *continuity.Request) {
		for {
			r.Printf("name=%s", r.Param("name"))
			r.Next()
		}
	}
	for _, mode := range []continuity.Mode{0, continuity.ByCookie} {
		t.Run(fmt.Sprintf("mode %d", mode), func(t *testing.T) {
			calls.Store(0)
			_, ts := start(t, app, &continuity.Options{Mode: mode, Identify: func(r *http.Request) (string, error) {
				calls.Add(1)
				return "alice", nil
			}})
			c := browser(t)
			for i, name := range []string{"a", "b", "c"} {
				resp, err := c.PostForm(ts.URL+"/", url.Values{"name": {name}})
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "name="+name, string(b))
				assert.EqualValues(t, i+1, calls.Load(), "Identify calls after %d requests", i+1)
			}
			status, _ := get(t, c, ts.URL+"/?name=d")
			require.Equal(t, http.StatusOK, status)
			assert.EqualValues(t, 4, calls.Load())
		})
	}
}
