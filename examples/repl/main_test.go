package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs the REPL with stdin and stdout on pipes: the test types into
// the one and reads the server's output from the other, a line at a time.
func serve(t *testing.T, wait time.Duration) (ts *httptest.Server, stdin io.Writer, stdout <-chan string) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p, err := newREPL(demo.Config{}, func() io.Reader { return inR }, outW, wait)
	require.NoError(t, err)
	lines := make(chan string, 10)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { outR.Close() }) // after Shutdown, which closes inR
	return webtest.Serve(t, p, p), inW, lines
}

func client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin") // as fetch sends it
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func printed(t *testing.T, stdout <-chan string) string {
	t.Helper()
	select {
	case l := <-stdout:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("the server printed nothing")
		return ""
	}
}

// A line typed on stdin reaches the page's long poll; the result the page
// posts is printed, once.
func TestALineGoesToThePageAndItsResultIsPrinted(t *testing.T) {
	ts, stdin, stdout := serve(t, 50*time.Millisecond)
	c := client(t)
	code, page := do(t, c, http.MethodGet, ts.URL+"/", nil)
	require.Equal(t, http.StatusOK, code)
	webtest.CheckPage(t, page)
	assert.Contains(t, page, `fetch("poll"`)

	// Nothing typed yet: the poll times out with 204.
	code, _ = do(t, c, http.MethodGet, ts.URL+"/poll", nil)
	assert.Equal(t, http.StatusNoContent, code)

	_, err := io.WriteString(stdin, "1 + 1\n\n6 * 7\n")
	require.NoError(t, err)
	type line struct {
		ID   uint64 `json:"id"`
		Code string `json:"code"`
	}
	poll := func() line {
		t.Helper()
		code, body := do(t, c, http.MethodGet, ts.URL+"/poll", nil)
		require.Equal(t, http.StatusOK, code, body)
		var l line
		require.NoError(t, json.Unmarshal([]byte(body), &l))
		return l
	}
	assert.Equal(t, line{1, "1 + 1"}, poll())
	assert.Equal(t, line{1, "1 + 1"}, poll(), "sent again until its result comes")

	code, _ = do(t, c, http.MethodPost, ts.URL+"/result", url.Values{"id": {"1"}, "result": {"2"}})
	assert.Equal(t, http.StatusNoContent, code)
	assert.Regexp(t, `^\[[0-9a-f]{16}\] "2"$`, printed(t, stdout))
	code, _ = do(t, c, http.MethodPost, ts.URL+"/result", url.Values{"id": {"1"}, "result": {"2"}})
	assert.Equal(t, http.StatusConflict, code, "printed once")

	assert.Equal(t, line{2, "6 * 7"}, poll(), "the blank line is skipped")
	code, _ = do(t, c, http.MethodPost, ts.URL+"/result", url.Values{"id": {"2"}, "result": {"42\x1b[2J"}})
	assert.Equal(t, http.StatusNoContent, code)
	assert.Regexp(t, `\] "42\\x1b\[2J"$`, printed(t, stdout), "escape sequences are quoted")

	code, _ = do(t, c, http.MethodGet, ts.URL+"/result?id=3&result=x", nil)
	assert.Equal(t, http.StatusBadRequest, code)
}

// The Host header must name loopback: a page reaching the server by DNS
// rebinding (Host: evil.example) gets 403.
func TestNonLoopbackHostIsRefused(t *testing.T) {
	ts, _, _ := serve(t, time.Millisecond)
	for host, want := range map[string]int{
		"evil.example":           http.StatusForbidden,
		"evil.example:80":        http.StatusForbidden,
		"localhost.evil.example": http.StatusForbidden,
		"127.0.0.1.nip.io":       http.StatusForbidden,
		"192.168.1.10:8080":      http.StatusForbidden,
		"localhost:8080":         http.StatusOK,
		"LOCALHOST.":             http.StatusOK,
		"app.localhost":          http.StatusOK,
		"127.0.0.1":              http.StatusOK,
		"127.1.2.3:80":           http.StatusOK,
		"[::1]:8080":             http.StatusOK,
	} {
		req, err := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := client(t).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, host)
	}
}

// main refuses to listen anywhere but on loopback.
func TestLoopbackAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"localhost:8080": true, "127.0.0.1:0": true, "[::1]:8080": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "example.com:80": false,
	} {
		assert.Equal(t, want, loopbackHost(addr), addr)
	}
}

// Shutdown stops the reader of a closable input at once, though no line
// ends its read (goleak checks that nothing is left).
func TestShutdownStopsTheReader(t *testing.T) {
	inR, _ := io.Pipe()
	p, err := newREPL(demo.Config{}, func() io.Reader { return inR }, io.Discard, time.Second)
	require.NoError(t, err)
	ts := httptest.NewServer(p)
	defer ts.Close()
	code, _ := do(t, client(t), http.MethodGet, ts.URL+"/", nil) // starts the reader
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, p.Shutdown(t.Context()))
	select {
	case <-p.stopped:
	default:
		t.Fatal("the reader is still running")
	}
	require.NoError(t, p.Shutdown(t.Context()), "a second Shutdown")
}

// The input is opened, and read, only from the first request let in: a
// REPL nobody opens (in the tour, say) leaves the process's stdin alone.
func TestInputIsReadOnlyOnceThePageIsUsed(t *testing.T) {
	opened := 0
	inR, _ := io.Pipe()
	open := func() io.Reader { opened++; return inR }

	p, err := newREPL(demo.Config{}, open, io.Discard, time.Second)
	require.NoError(t, err)
	require.NoError(t, p.Shutdown(t.Context()))
	assert.Zero(t, opened, "never used, never opened")

	p, err = newREPL(demo.Config{}, open, io.Discard, time.Second)
	require.NoError(t, err)
	ts := webtest.Serve(t, p, p)
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	require.NoError(t, err)
	req.Host = "evil.example"
	resp, err := client(t).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Zero(t, opened, "a refused request opens nothing")

	c := client(t)
	for range 2 {
		code, _ := do(t, c, http.MethodGet, ts.URL+"/", nil)
		require.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, 1, opened, "opened by the first request let in, once")
}

// Where it may serve. Alone, it will not start on an address that is not
// loopback; mounted (in the tour, which must start for the other
// examples), it answers every request 403 instead, and reads nothing.
func TestWhereItServes(t *testing.T) {
	for _, tc := range []struct {
		c    demo.Config
		want string // "start", "error" or "403"
	}{
		{demo.Config{Addr: "localhost:8080"}, "start"},
		{demo.Config{Addr: "127.0.0.1:0"}, "start"},
		{demo.Config{Addr: ""}, "start"}, // the listener decides: see TestConnectionMustBeLoopback
		{demo.Config{Addr: ":8080"}, "error"},
		{demo.Config{Addr: "0.0.0.0:8080"}, "error"},
		{demo.Config{Addr: "example.com:80"}, "error"},
		{demo.Config{Addr: ":8080", Mount: "/repl/"}, "403"},
		{demo.Config{Addr: "192.0.2.1:80", Mount: "/repl/"}, "403"},
		{demo.Config{Addr: "localhost:8080", FCGI: "unix:/run/repl.sock"}, "start"},
		{demo.Config{Addr: "localhost:8080", FCGI: "tcp:127.0.0.1:9000"}, "start"},
		{demo.Config{Addr: "localhost:8080", FCGI: "tcp:0.0.0.0:9000"}, "error"},
		{demo.Config{Addr: "localhost:8080", FCGI: "tcp:0.0.0.0:9000", Mount: "/repl/"}, "403"},
	} {
		opened := false
		p, err := newREPL(tc.c, func() io.Reader { opened = true; return strings.NewReader("") }, io.Discard, time.Second)
		if tc.want == "error" {
			assert.ErrorContains(t, err, "loopback", "%+v", tc.c)
			continue
		}
		require.NoError(t, err, "%+v", tc.c)
		if tc.want == "403" {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "http://localhost/", nil)
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}))
			p.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusForbidden, rec.Code, "%+v", tc.c)
			assert.Contains(t, rec.Body.String(), "loopback", "%+v", tc.c)
			assert.False(t, opened, "%+v", tc.c)
		}
		require.NoError(t, p.Shutdown(t.Context()))
	}
}

// Over HTTP, a request must arrive on a loopback address, whatever -addr
// said (it may be unset: in the tour's tests, the listener decides). A
// request whose connection is not known is refused.
func TestConnectionMustBeLoopback(t *testing.T) {
	p, err := newREPL(demo.Config{}, func() io.Reader { return strings.NewReader("") }, io.Discard, time.Second)
	require.NoError(t, err)
	defer p.Shutdown(t.Context())
	for _, local := range []net.Addr{
		nil,
		&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8080},
		&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080},
		&net.UnixAddr{Name: "/run/repl.sock", Net: "unix"},
	} {
		req := httptest.NewRequest(http.MethodGet, "http://localhost/", nil)
		if local != nil {
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, local))
		}
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusForbidden, rec.Code, "%v", local)
	}
}
