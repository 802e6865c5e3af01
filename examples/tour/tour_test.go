package main

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
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

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testConfig = demo.Config{IdleTimeout: time.Minute, MaxSessions: 100}

// examples returns the tour's examples, prepared as main does, with the
// guessing game's secret always 42.
func examples(t *testing.T) preparedList {
	t.Helper()
	list := slices.Clone(generatedExamples)
	i := slices.IndexFunc(list, func(ex example) bool { return ex.name == "guess" })
	require.GreaterOrEqual(t, i, 0, "the tour has no guess")
	list[i].main = func(demoMain mainFunc) { demoMain(demo.App(guess_guess(func() int { return 42 }))) }
	prepared, err := prepare(list)
	require.NoError(t, err)
	return prepared
}

// serveTour serves the tour of examples(t) until the test ends.
func serveTour(t *testing.T) (*tour, *httptest.Server) {
	t.Helper()
	tr, err := newTour(testConfig, examples(t))
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
	at := -1
	for i, ex := range examples(t) {
		link := `<a href="` + ex.name + `/">` + html.EscapeString(ex.title) + `</a>`
		assert.Contains(t, page, link)
		assert.Contains(t, page, `<a href="_source/`+ex.name+`">source</a>`)
		if i < len(readingOrder) {
			assert.Equal(t, readingOrder[i], ex.name, "the index begins in reading order")
			assert.Greater(t, strings.Index(page, link), at, "the index begins in reading order")
			at = strings.Index(page, link)
		}
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
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Transport: ts.Client().Transport, Timeout: 10 * time.Second}
	for _, ex := range examples(t) {
		touch(t, c, ts.URL+"/"+ex.name+"/")
	}
	live := func(name string) int {
		cs, ok := tr.servers[name].(*continuity.Server)
		if !ok {
			return -1 // an example that serves more than continuity
		}
		return cs.Metrics().LiveSessions
	}
	require.Equal(t, 1, live("counter"))
	require.Equal(t, 1, live("progress"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, tr.Shutdown(ctx))
	for _, ex := range examples(t) {
		if n := live(ex.name); n >= 0 {
			assert.Equal(t, 0, n, ex.name)
		}
		assert.Equal(t, http.StatusServiceUnavailable, status(t, ts.Client(), ts.URL+"/"+ex.name+"/"), ex.name)
	}
	// The index and the sources do not depend on any session.
	assert.Equal(t, http.StatusOK, status(t, ts.Client(), ts.URL+"/"))
	assert.Equal(t, http.StatusOK, status(t, ts.Client(), ts.URL+"/_source/counter"))
}

// touch requests url and reads only the head of the answer: enough to
// start a session, even in an example that streams.
func touch(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
}

func TestBadName(t *testing.T) {
	counter := slices.IndexFunc(generatedExamples, func(ex example) bool { return ex.name == "counter" })
	require.GreaterOrEqual(t, counter, 0)
	for _, name := range []string{"", "_source", "a/b", "a b", "{x}", "-x", "a%2F"} {
		good, bad := generatedExamples[counter], generatedExamples[counter]
		bad.name = name
		list, err := prepare([]example{good, bad})
		require.NoError(t, err)
		_, err = newTour(testConfig, list)
		assert.Error(t, err, "name %q", name)
	}
}

// TestPrepareWithoutBuild: an example whose main never calls demo.Main
// is refused with its name.
func TestPrepareWithoutBuild(t *testing.T) {
	_, err := prepare([]example{{name: "idle", main: func(mainFunc) {}}})
	assert.ErrorContains(t, err, "examples/idle")
}

// TestEveryExampleIsInTheTour: each examples/NAME program is mounted at
// /NAME/. When it fails, zz_examples.go is stale: go generate ./examples/tour.
func TestEveryExampleIsInTheTour(t *testing.T) {
	mains, err := filepath.Glob("../*/main.go")
	require.NoError(t, err)
	require.NotEmpty(t, mains)
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		if name == "tour" {
			continue
		}
		assert.True(t, slices.ContainsFunc(generatedExamples, func(ex example) bool { return ex.name == name }),
			"examples/%s is not in the tour: run go generate ./examples/tour", name)
	}
}
