package main

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	question = `<p id="question">Do you really want to GO NEGATIVE?</p>`
	answer   = "The Answer to Life, The Universe, and Everything"
)

// serve runs the example as main builds it, on a real socket.
func serve(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv, err := demo.App(counter)(demo.Config{})
	require.NoError(t, err)
	ts := webtest.Serve(t, srv, srv)
	return ts, ts.URL + "/"
}

// user follows links by their text, as a person clicks them.
type user struct {
	t    *testing.T
	b    *webtest.Browser
	url  string // of the page in view
	page string
}

func newUser(t *testing.T, ts *httptest.Server, base string) *user {
	u := &user{t: t, b: webtest.NewBrowser(t, ts), url: base}
	u.page = u.b.Get(base)
	return u
}

// href is the address of the link labelled text on the page in view.
func (u *user) href(text string) string {
	u.t.Helper()
	return webtest.Resolve(u.t, u.url, webtest.Find(u.t, u.page, `<a href="([^"]*)">`+regexp.QuoteMeta(text)+`</a>`))
}

func (u *user) click(text string) string {
	u.t.Helper()
	return u.open(u.href(text))
}

func (u *user) open(url string) string {
	u.t.Helper()
	u.url, u.page = url, u.b.Get(url)
	return u.page
}

func (u *user) count() int {
	u.t.Helper()
	n, err := strconv.Atoi(webtest.Find(u.t, u.page, `<span id="count">(-?[0-9]+)</span>`))
	require.NoError(u.t, err)
	return n
}

func TestCounter(t *testing.T) {
	ts, base := serve(t)
	u := newUser(t, ts, base)
	assert.Equal(t, 0, u.count())
	assert.NotContains(t, u.page, answer)

	// "--" at 0 asks; the question stays until it is answered, a reload
	// asks it again; "No" keeps 0.
	assert.Contains(t, u.click("--"), question)
	assert.NotContains(t, u.page, `id="count"`)
	assert.Contains(t, u.open(base), question)
	u.click("No")
	assert.Equal(t, 0, u.count())

	// "Yes" goes negative; below 0, "--" asks nothing.
	assert.Contains(t, u.click("--"), question)
	u.click("Yes")
	assert.Equal(t, -1, u.count())
	u.click("--")
	assert.Equal(t, -2, u.count())

	for want := -1; want <= 43; want++ {
		u.click("++")
		require.Equal(t, want, u.count())
		if want == 42 {
			assert.Contains(t, u.page, `<p id="answer"><strong>`+answer+`</strong></p>`)
		} else {
			assert.NotContains(t, u.page, answer, "at %d", want)
		}
	}
	u.click("--")
	assert.Equal(t, 42, u.count())
	assert.Contains(t, u.page, answer)
}

// A link works once, on the page it came with: an older page's link, or a
// question's answer after the question is gone, changes nothing.
func TestStaleLinks(t *testing.T) {
	ts, base := serve(t)
	u := newUser(t, ts, base)
	plus := u.href("++")
	u.click("++")
	assert.Equal(t, 1, u.count())
	u.open(plus)
	assert.Equal(t, 1, u.count())

	u.click("--")
	u.click("--")
	assert.Contains(t, u.page, question)
	yes := u.href("Yes")
	u.click("No")
	u.open(yes)
	assert.Equal(t, 0, u.count())

	// While the question is asked, the counter's old links do nothing:
	// it is asked again.
	minus := u.href("--")
	u.click("--")
	assert.Contains(t, u.open(minus), question)
	u.click("Yes")
	assert.Equal(t, -1, u.count())
}

// Each browser has its own count.
func TestTwoBrowsers(t *testing.T) {
	ts, base := serve(t)
	alice, bob := newUser(t, ts, base), newUser(t, ts, base)
	alice.click("++")
	alice.click("++")
	bob.click("--")
	assert.Contains(t, bob.page, question)
	alice.click("++")
	assert.Equal(t, 3, alice.count())
	bob.click("Yes")
	assert.Equal(t, -1, bob.count())
}
