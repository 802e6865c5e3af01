// Package webtest drives the examples over real HTTP (or FastCGI) in
// tests. A [Browser] is an http.Client with its own cookie jar, so two
// Browsers are two sessions, as two real browsers would be.
package webtest

import (
	"context"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
	"github.com/continuity-go/continuity/internal/fcgitest"
)

// Shutdowner is a server that shuts down gracefully.
type Shutdowner interface {
	Shutdown(ctx context.Context) error
}

// Serve serves h on a real socket until the test ends; then it shuts srv
// down (sessions first, so no handler is left waiting on one) and closes
// the listener. srv may be nil.
func Serve(t testing.TB, h http.Handler, srv Shutdowner) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		}
		ts.Close()
	})
	return ts
}

// ServeApp serves app with continuity's defaults until the test ends.
func ServeApp(t testing.TB, app func(*continuity.Request)) *httptest.Server {
	t.Helper()
	srv, err := continuity.New(app, nil)
	require.NoError(t, err)
	return Serve(t, srv, srv)
}

// ServeFCGI serves app with continuity's defaults over FastCGI, as -fcgi
// does, on a fresh Unix socket (network "unix") or loopback port ("tcp"),
// until the test ends. It returns the address to give
// [NewFCGIBrowser].
func ServeFCGI(t testing.TB, network string, app func(*continuity.Request)) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "app.sock")
	}
	l, err := net.Listen(network, addr)
	require.NoError(t, err)
	srv, err := continuity.New(app, nil)
	require.NoError(t, err)
	fs := &adapter.FCGIServer{Handler: srv}
	served := make(chan error, 1)
	go func() { served <- fs.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		require.NoError(t, fs.Shutdown(ctx))
		require.ErrorIs(t, <-served, http.ErrServerClosed)
	})
	return l.Addr().String()
}

// NewFCGIBrowser returns a browser whose requests go over FastCGI to the
// application at network, addr, as through a web server in front of it.
// Its URLs name any host ("http://app.test/..."): only their path and
// query reach the application, with the host as the Host header.
func NewFCGIBrowser(t testing.TB, network, addr string) *Browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &Browser{t: t, Jar: jar}
	b.c.Jar = jar
	b.c.Transport = &fcgitest.Transport{Network: network, Addr: addr}
	b.c.Timeout = 10 * time.Second
	return b
}

// A Browser is an HTTP client with its own cookie jar.
type Browser struct {
	t   testing.TB
	c   http.Client
	Jar *cookiejar.Jar
}

// NewBrowser returns a browser for ts. Its connections are closed with ts.
func NewBrowser(t testing.TB, ts *httptest.Server) *Browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &Browser{t: t, c: *ts.Client(), Jar: jar}
	b.c.Jar = jar
	b.c.Timeout = 10 * time.Second
	return b
}

// Get fetches url and returns the page; it fails the test unless the
// answer is a 200 HTML page.
func (b *Browser) Get(url string) string {
	b.t.Helper()
	resp, err := b.c.Get(url)
	require.NoError(b.t, err)
	return b.page(resp)
}

// Post submits form to url as a browser submits a form.
func (b *Browser) Post(url string, form url.Values) string {
	b.t.Helper()
	resp, err := b.c.PostForm(url, form)
	require.NoError(b.t, err)
	return b.page(resp)
}

func (b *Browser) page(resp *http.Response) string {
	b.t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	require.NoError(b.t, err)
	require.Equal(b.t, http.StatusOK, resp.StatusCode, "%s %s: %s", resp.Request.Method, resp.Request.URL, body)
	require.True(b.t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"), "Content-Type %q", resp.Header.Get("Content-Type"))
	return CheckPage(b.t, string(body))
}

// CheckPage fails the test unless page looks like a small HTML5 document
// with a title, whose links and forms are relative (so that it works
// mounted under any prefix) and which loads nothing from elsewhere. It
// returns page.
func CheckPage(t testing.TB, page string) string {
	t.Helper()
	require.True(t, strings.HasPrefix(strings.ToLower(page), "<!doctype html>"), "no doctype:\n%s", page)
	require.Regexp(t, `<title>[^<]+</title>`, page)
	require.Contains(t, page, "</html>")
	require.NotRegexp(t, `(?i)(href|src|action)\s*=\s*"?(/|[a-z]+:)`, page, "absolute or external reference")
	return page
}

// Find returns the first submatch of pattern in page; it fails the test if
// there is none.
func Find(t testing.TB, page, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(page)
	require.NotNil(t, m, "no match for %s in:\n%s", pattern, page)
	require.Len(t, m, 2, "pattern %s needs one group", pattern)
	return m[1]
}

// Resolve resolves ref, an attribute value from a page (a link's href or
// a form's action, HTML-escaped), against base, as a browser does.
func Resolve(t testing.TB, base, ref string) string {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	r, err := url.Parse(html.UnescapeString(ref))
	require.NoError(t, err)
	return u.ResolveReference(r).String()
}
