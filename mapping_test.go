package continuity_test

import (
	"io"
	"net/http"
	"net/netip"
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
