package main

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs the example as main builds it, on a real socket.
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := build(demo.Config{})
	require.NoError(t, err)
	return webtest.Serve(t, srv, srv)
}

func greeting(t *testing.T, page string) string {
	t.Helper()
	return webtest.Find(t, page, `<h1 id="greeting">([^<]*)</h1>`)
}

func TestHelloThenHelloToYouToo(t *testing.T) {
	ts := serve(t)
	b := webtest.NewBrowser(t, ts)
	for range 2 { // then the flow starts over
		assert.Equal(t, "Hello, World!", greeting(t, b.Get(ts.URL+"/")))
		assert.Equal(t, "Hello to you too, World!", greeting(t, b.Get(ts.URL+"/")))
	}
	assert.Equal(t, "Hello, Jörg!", greeting(t, b.Get(ts.URL+"/J%C3%B6rg")))
	page := b.Get(ts.URL + "/J%C3%B6rg")
	assert.Equal(t, "Hello to you too, Jörg!", greeting(t, page))

	// The page's links: "Again" is the next step on the same path, "Alice"
	// a new session.
	again := webtest.Resolve(t, ts.URL+"/J%C3%B6rg", webtest.Find(t, page, `<a href="([^"]*)">Again</a>`))
	assert.Equal(t, "Hello, Jörg!", greeting(t, b.Get(again)))
	alice := webtest.Resolve(t, ts.URL+"/J%C3%B6rg", webtest.Find(t, page, `<a href="([^"]*)">Alice</a>`))
	assert.Equal(t, ts.URL+"/Alice", alice)
	assert.Equal(t, "Hello, Alice!", greeting(t, b.Get(alice)))
	assert.Equal(t, "Hello to you too, Jörg!", greeting(t, b.Get(again)))
}

// The name comes from the URL, so the page escapes it.
func TestNameIsEscaped(t *testing.T) {
	ts := serve(t)
	b := webtest.NewBrowser(t, ts)
	page := b.Get(ts.URL + `/%3Cscript%3Ealert(1)%3C%2Fscript%3E%26%22`)
	assert.Equal(t, "Hello, &lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;!", greeting(t, page))
	assert.NotContains(t, page, "<script>")
}

// Two paths in one browser are two sessions, each at its own step; the
// cleaned path keys the session, so /Carol/ is /Carol.
func TestPathsAreIndependentSessions(t *testing.T) {
	ts := serve(t)
	b := webtest.NewBrowser(t, ts)
	assert.Equal(t, "Hello, Alice!", greeting(t, b.Get(ts.URL+"/Alice")))
	assert.Equal(t, "Hello, Bob!", greeting(t, b.Get(ts.URL+"/Bob")))
	assert.Equal(t, "Hello to you too, Alice!", greeting(t, b.Get(ts.URL+"/Alice")))
	assert.Equal(t, "Hello, Carol!", greeting(t, b.Get(ts.URL+"/Carol/")))
	assert.Equal(t, "Hello to you too, Bob!", greeting(t, b.Get(ts.URL+"/Bob")))
	assert.Equal(t, "Hello to you too, Carol!", greeting(t, b.Get(ts.URL+"/Carol")))
	assert.Equal(t, "Hello, Alice!", greeting(t, b.Get(ts.URL+"/Alice")))
	assert.Equal(t, "Hello, a/b!", greeting(t, b.Get(ts.URL+"/a/b")))
	assert.Equal(t, "Hello to you too, a/b!", greeting(t, b.Get(ts.URL+"/a//x/../b")))
}

// Two browsers on one path never share a session.
func TestTwoBrowsers(t *testing.T) {
	ts := serve(t)
	one, two := webtest.NewBrowser(t, ts), webtest.NewBrowser(t, ts)
	assert.Equal(t, "Hello, Alice!", greeting(t, one.Get(ts.URL+"/Alice")))
	assert.Equal(t, "Hello, Alice!", greeting(t, two.Get(ts.URL+"/Alice")))
	assert.Equal(t, "Hello to you too, Alice!", greeting(t, one.Get(ts.URL+"/Alice")))
	assert.Equal(t, "Hello, World!", greeting(t, two.Get(ts.URL+"/")))
	assert.Equal(t, "Hello to you too, Alice!", greeting(t, two.Get(ts.URL+"/Alice")))
	assert.Equal(t, "Hello, Alice!", greeting(t, one.Get(ts.URL+"/Alice")))
}
