package barecounter

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func page(w io.Writer, n int) { fmt.Fprintf(w, "count %d", n) }

// Each browser has its own count, kept by its signed cookie; a cookie
// that does not verify starts a new one.
func TestCountsEachBrowser(t *testing.T) {
	h := New(page)
	ts := httptest.NewServer(h)
	defer ts.Close()
	get := func(c *http.Client) (string, *http.Response) {
		resp, err := c.Get(ts.URL + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		return string(b), resp
	}
	client := func() *http.Client {
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		return &http.Client{Jar: jar, Transport: ts.Client().Transport}
	}
	a, b := client(), client()
	body, resp := get(a)
	assert.Equal(t, "count 1", body)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Len(t, resp.Cookies(), 1)
	ck := resp.Cookies()[0]
	assert.Equal(t, "cid", ck.Name)
	assert.True(t, ck.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)

	body, _ = get(a)
	assert.Equal(t, "count 2", body)
	body, _ = get(b)
	assert.Equal(t, "count 1", body)
	body, resp = get(a)
	assert.Equal(t, "count 3", body)
	assert.Empty(t, resp.Cookies(), "a known browser keeps its cookie")
	assert.Equal(t, 2, h.Live())

	req, err := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "cid", Value: ck.Value + "x"})
	resp, err = ts.Client().Do(req)
	require.NoError(t, err)
	b2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "count 1", string(b2))
	assert.Len(t, resp.Cookies(), 1)
	assert.Equal(t, 3, h.Live())
}

// Parked counts as Handler does, each browser in a goroutine of its own,
// and Close stops them all (goleak checks).
func TestParkedCountsEachBrowser(t *testing.T) {
	p := NewParked(page)
	ts := httptest.NewServer(p)
	defer ts.Close()
	defer p.Close()
	var clients [3]*http.Client
	for i := range clients {
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		clients[i] = &http.Client{Jar: jar, Transport: ts.Client().Transport}
	}
	for step := 1; step <= 3; step++ {
		for i, c := range clients[:step] {
			resp, err := c.Get(ts.URL + "/")
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, fmt.Sprintf("count %d", step-i), string(b))
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		}
	}
	assert.Equal(t, 3, p.Live())
	p.Close()
	resp, err := clients[0].Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}
