package main

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testConfig = demo.Config{IdleTimeout: time.Minute, MaxSessions: 100}

// serveTour serves the tour until the test ends, with the guessing game's
// secret always 42.
func serveTour(t *testing.T) (*tour, *httptest.Server) {
	t.Helper()
	list := slices.Clone(examples)
	for i := range list {
		if list[i].path == "/guess/" {
			list[i].app = apps.Guess(func() int { return 42 })
		}
	}
	tr, err := newTour(testConfig, list)
	require.NoError(t, err)
	return tr, webtest.Serve(t, tr, tr)
}

func status(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestIndex(t *testing.T) {
	_, ts := serveTour(t)
	page := webtest.NewBrowser(t, ts).Get(ts.URL + "/")
	for _, ex := range examples {
		assert.Contains(t, page, `<a href="`+strings.TrimPrefix(ex.path, "/")+`">`+html.EscapeString(ex.title)+`</a>`)
	}
	assert.Equal(t, http.StatusNotFound, status(t, ts.Client(), ts.URL+"/no-such-example/"))
}

func TestExamplesUnderTheirPaths(t *testing.T) {
	_, ts := serveTour(t)
	b := webtest.NewBrowser(t, ts)
	link := func(base, page, label string) string {
		t.Helper()
		return webtest.Resolve(t, base, webtest.Find(t, page, `<a href="([^"]*)">`+label+`</a>`))
	}

	// The index links to each example.
	index := b.Get(ts.URL + "/")
	counter := link(ts.URL+"/", index, "Counter")
	hello := link(ts.URL+"/", index, "Hello")
	guess := link(ts.URL+"/", index, "Guess the number")
	callbacks := link(ts.URL+"/", index, "Callbacks")
	require.Equal(t, ts.URL+"/counter/", counter)

	// Counter: 1, 2, 3 by its own relative link; the path without its
	// slash redirects into the example.
	count := func(page string) string { return webtest.Find(t, page, `<span id="count">(\d+)</span>`) }
	page := b.Get(counter)
	assert.Equal(t, "1", count(page))
	page = b.Get(link(counter, page, "Count again"))
	assert.Equal(t, "2", count(page))
	assert.Equal(t, "3", count(b.Get(ts.URL+"/counter")))

	// Hello: the form posts to where it came from.
	page = b.Get(hello)
	assert.Contains(t, page, `<form method="post">`)
	page = b.Post(hello, url.Values{"name": {"<i>Ada</i>"}})
	assert.Contains(t, page, "Hello, &lt;i&gt;Ada&lt;/i&gt;!")
	assert.Contains(t, b.Get(link(hello, page, "Start over")), `<input name="name"`)

	// Guess.
	b.Get(guess)
	assert.Contains(t, b.Post(guess, url.Values{"guess": {"10"}}), "10 is too low")
	assert.Contains(t, b.Post(guess, url.Values{"guess": {"90"}}), "90 is too high")
	assert.Contains(t, b.Post(guess, url.Values{"guess": {"42"}}), "42 is correct")

	// Callbacks: +1 +1 -1.
	value := func(page string) string { return webtest.Find(t, page, `<span id="value">(-?\d+)</span>`) }
	page = b.Get(callbacks)
	for _, l := range []string{`\+1`, `\+1`, `-1`} {
		page = b.Get(link(callbacks, page, l))
	}
	assert.Equal(t, "1", value(page))

	// Visiting the others did not disturb the counter's session.
	assert.Equal(t, "4", count(b.Get(counter)))

	// Each example has its own session cookie, scoped to its path.
	for _, p := range []string{"/counter/", "/hello/", "/guess/", "/callbacks/"} {
		u, err := url.Parse(ts.URL + p)
		require.NoError(t, err)
		cookies := b.Jar.Cookies(u)
		if assert.Len(t, cookies, 1, "cookies sent to %s", p) {
			assert.Equal(t, "cid-"+strings.Trim(p, "/"), cookies[0].Name)
		}
	}
	u, err := url.Parse(ts.URL + "/")
	require.NoError(t, err)
	assert.Empty(t, b.Jar.Cookies(u), "no cookie for the index")
}

// TestCookiesDoNotInterfere: the same browser's sessions in two examples
// are independent, and a second browser starts afresh in each.
func TestCookiesDoNotInterfere(t *testing.T) {
	_, ts := serveTour(t)
	alice, bob := webtest.NewBrowser(t, ts), webtest.NewBrowser(t, ts)
	count := func(b *webtest.Browser) string {
		return webtest.Find(t, b.Get(ts.URL+"/counter/"), `<span id="count">(\d+)</span>`)
	}
	value := func(page string) string { return webtest.Find(t, page, `<span id="value">(-?\d+)</span>`) }
	plus := func(b *webtest.Browser, page string) string {
		return b.Get(webtest.Resolve(t, ts.URL+"/callbacks/", webtest.Find(t, page, `<a href="([^"]*)">\+1</a>`)))
	}

	assert.Equal(t, "1", count(alice))
	page := plus(alice, alice.Get(ts.URL+"/callbacks/"))
	assert.Equal(t, "1", value(page))
	assert.Equal(t, "2", count(alice))
	assert.Equal(t, "2", value(plus(alice, page)))

	assert.Equal(t, "1", count(bob))
	assert.Equal(t, "0", value(bob.Get(ts.URL+"/callbacks/")))
	assert.Equal(t, "3", count(alice))

	// Each example's cookie has its own name; one sent to another example
	// is ignored there, and a new session starts.
	cu, err := url.Parse(ts.URL + "/counter/")
	require.NoError(t, err)
	cookies := alice.Jar.Cookies(cu)
	require.Len(t, cookies, 1)
	assert.Equal(t, "cid-counter", cookies[0].Name)
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/hello/", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "cid-hello", Value: cookies[0].Value})
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), `<input name="name"`)
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "cid-hello=", "a new session for /hello/")
	assert.Equal(t, "4", count(alice))

	// A cookie left by a standalone example run earlier on the same
	// address (cid, Path=/) travels with every tour request, unread.
	carol := webtest.NewBrowser(t, ts)
	root, err := url.Parse(ts.URL + "/")
	require.NoError(t, err)
	carol.Jar.SetCookies(root, []*http.Cookie{{Name: "cid", Value: "from-another-server", Path: "/"}})
	for _, want := range []string{"1", "2", "3"} {
		assert.Equal(t, want, count(carol))
	}
}

// TestShutdown: the tour's Shutdown ends every example's sessions.
func TestShutdown(t *testing.T) {
	tr, ts := serveTour(t)
	b := webtest.NewBrowser(t, ts)
	for _, ex := range examples {
		b.Get(ts.URL + ex.path)
	}
	for _, srv := range tr.servers {
		require.Equal(t, 1, srv.Metrics().LiveSessions)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, tr.Shutdown(ctx))
	for _, srv := range tr.servers {
		assert.Equal(t, 0, srv.Metrics().LiveSessions)
	}
	for _, ex := range examples {
		assert.Equal(t, http.StatusServiceUnavailable, status(t, ts.Client(), ts.URL+ex.path), ex.path)
	}
	// The index does not depend on any session.
	assert.Equal(t, http.StatusOK, status(t, ts.Client(), ts.URL+"/"))
}

func TestBadPath(t *testing.T) {
	for _, p := range []string{"", "/", "counter/", "/counter"} {
		_, err := newTour(testConfig, []example{
			{path: "/ok/", title: "OK", app: apps.Counter},
			{path: p, title: "Bad", app: apps.Counter},
		})
		assert.Error(t, err, "path %q", p)
	}
}

// TestEveryExampleIsInTheTour: each examples/NAME program is mounted at
// /NAME/.
func TestEveryExampleIsInTheTour(t *testing.T) {
	mains, err := filepath.Glob("../*/main.go")
	require.NoError(t, err)
	require.NotEmpty(t, mains)
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		if name == "tour" {
			continue
		}
		assert.True(t, slices.ContainsFunc(examples, func(ex example) bool { return ex.path == "/"+name+"/" }),
			"examples/%s is not in the tour", name)
	}
}
