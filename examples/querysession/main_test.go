package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client is a browser that refuses cookies: it has no jar, and every
// answer is checked to set none.
type client struct {
	t    *testing.T
	c    *http.Client
	url  string // of the page in view
	page string
}

func newClient(t *testing.T) *client {
	t.Helper()
	srv, err := build(demo.Config{})
	require.NoError(t, err)
	ts := webtest.Serve(t, srv, srv)
	c := &client{t: t, c: ts.Client(), url: ts.URL + "/"}
	require.Nil(t, c.c.Jar)
	c.get(c.url)
	return c
}

func (c *client) get(u string) *client {
	c.t.Helper()
	resp, err := c.c.Get(u)
	require.NoError(c.t, err)
	return c.read(resp)
}

func (c *client) post(u string, form url.Values) *client {
	c.t.Helper()
	resp, err := c.c.PostForm(u, form)
	require.NoError(c.t, err)
	return c.read(resp)
}

func (c *client) read(resp *http.Response) *client {
	c.t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	require.Equal(c.t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Empty(c.t, resp.Header.Values("Set-Cookie"), "no cookie, ever")
	assert.Equal(c.t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	c.url, c.page = resp.Request.URL.String(), webtest.CheckPage(c.t, string(body))
	return c
}

func (c *client) count() int {
	c.t.Helper()
	n, err := strconv.Atoi(webtest.Find(c.t, c.page, `<span id="count">([0-9]+)</span>`))
	require.NoError(c.t, err)
	return n
}

// link follows the link labelled text.
func (c *client) link(text string) *client {
	c.t.Helper()
	return c.get(webtest.Resolve(c.t, c.url, webtest.Find(c.t, c.page, `<a href="([^"]*)">`+text+`</a>`)))
}

// submit sends the page's form as a browser does: to the page's own
// address, with its hidden token.
func (c *client) submit() *client {
	c.t.Helper()
	require.Contains(c.t, c.page, `<form method="post">`)
	return c.post(c.url, url.Values{"sid": {c.token()}})
}

// token is the session token in the page's form.
func (c *client) token() string {
	c.t.Helper()
	return html.UnescapeString(webtest.Find(c.t, c.page, `<input type="hidden" name="sid" value="([^"]*)">`))
}

func TestCountsWithoutCookies(t *testing.T) {
	c := newClient(t)
	assert.Equal(t, 1, c.count())
	tok := c.token()
	require.NotEmpty(t, tok)

	assert.Equal(t, 2, c.link("Count again").count())
	assert.Contains(t, c.url, "?sid=")
	assert.Equal(t, 3, c.submit().count())
	assert.Equal(t, 4, c.link("Count again").count())
	assert.Equal(t, 5, c.submit().count())
	assert.Equal(t, tok, c.token(), "one session, one token")

	// The form works posted to a bare address too: the token is in the body.
	base := strings.Split(c.url, "?")[0]
	assert.Equal(t, 6, c.post(base, url.Values{"sid": {tok}}).count())

	// Without the token, a new session starts at 1 and keeps its own count.
	assert.Equal(t, 1, c.link("A link without the token").count())
	assert.NotEqual(t, tok, c.token())
	assert.Equal(t, 2, c.link("Count again").count())
	assert.Equal(t, 7, c.get(base+"?sid="+url.QueryEscape(tok)).count())
}

// A token the server did not sign is never adopted: it gets a new session
// with a token of the server's own.
func TestForgedTokenGetsANewSession(t *testing.T) {
	c := newClient(t)
	base := strings.Split(c.url, "?")[0]
	for _, forged := range []string{"me", "chosen-by-the-client", url.QueryEscape(c.token()) + "x"} {
		c.get(base + "?sid=" + forged)
		assert.Equal(t, 1, c.count(), forged)
		assert.NotEqual(t, forged, c.token())
		assert.Equal(t, 2, c.link("Count again").count(), forged)
	}
}
