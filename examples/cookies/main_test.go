package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	srv, err := demo.App(cookies)(demo.Config{})
	require.NoError(t, err)
	return webtest.Serve(t, srv, srv)
}

// jarValue is the value of the cookie "visits" in b's jar, or "".
func jarValue(t *testing.T, b *webtest.Browser, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	for _, c := range b.Jar.Cookies(parsed) {
		if c.Name == "visits" {
			return c.Value
		}
	}
	return ""
}

func TestSetReadUpdateDelete(t *testing.T) {
	ts := serve(t)
	base := ts.URL + "/"
	b := webtest.NewBrowser(t, ts)

	page := b.Get(base)
	assert.Contains(t, page, `<p id="none">`)
	assert.Contains(t, page, `It is set to <span id="set">1</span> now.`)
	assert.Contains(t, page, `<span id="requests">1</span>`)
	assert.Equal(t, "1", jarValue(t, b, base))

	for i, want := range []string{"1", "2", "3"} {
		page = b.Get(base)
		assert.Contains(t, page, `visits=<span id="sent">`+want+`</span>`)
		assert.Equal(t, want, webtest.Find(t, page, `visits=<span id="sent">([^<]*)</span>`))
		next := []string{"2", "3", "4"}[i]
		assert.Contains(t, page, `It is set to <span id="set">`+next+`</span> now.`)
		assert.Equal(t, next, jarValue(t, b, base))
	}

	// The browser's jar keeps the cookie even on another path.
	page = b.Get(base + "some/where")
	assert.Contains(t, page, `visits=<span id="sent">4</span>`)

	del := webtest.Resolve(t, base, webtest.Find(t, page, `<a href="([^"]*)">Delete the cookie</a>`))
	page = b.Get(del)
	assert.Contains(t, page, `visits=<span id="sent">5</span>`)
	assert.Contains(t, page, `<p id="deleted">`)
	assert.Equal(t, "", jarValue(t, b, base))

	page = b.Get(base)
	assert.Contains(t, page, `<p id="none">`)
	assert.Contains(t, page, `It is set to <span id="set">1</span> now.`)
	assert.Contains(t, page, `<span id="requests">7</span>`, "the session went on all along")

	// Another browser has a cookie of its own.
	other := webtest.NewBrowser(t, ts)
	assert.Contains(t, other.Get(base), `<p id="none">`)
	assert.Contains(t, other.Get(base), `visits=<span id="sent">1</span>`)
	assert.Equal(t, "1", jarValue(t, b, base))
}

// send makes one request carrying the Cookie header cookie, without a jar.
func send(t *testing.T, ts *httptest.Server, cookie string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	require.NoError(t, err)
	req.Header.Set("Cookie", cookie)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// The cookie's attributes, and what a value that is not a count does.
func TestCookieAttributesAndBadValues(t *testing.T) {
	ts := serve(t)
	resp, page := send(t, ts, "visits=41")
	assert.Contains(t, page, `It is set to <span id="set">42</span> now.`)
	var visits *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "visits" {
			visits = c
		}
	}
	require.NotNil(t, visits)
	assert.Equal(t, "42", visits.Value)
	assert.Equal(t, "/", visits.Path)
	assert.True(t, visits.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, visits.SameSite)
	assert.Equal(t, 365*24*60*60, visits.MaxAge)

	for _, bad := range []string{"visits=<b>x</b>", "visits=-3", "visits=99999999999", "visits="} {
		_, page := send(t, ts, bad)
		assert.Contains(t, page, `It is set to <span id="set">1</span> now.`, bad)
		assert.NotContains(t, page, "<b>x", bad)
	}
	_, page = send(t, ts, "visits=<b>x</b>")
	assert.Contains(t, page, `visits=<span id="sent">&lt;b&gt;x&lt;/b&gt;</span>`)
	_, page = send(t, ts, "visits=")
	assert.Contains(t, page, `visits=<span id="sent"></span>`)
}
