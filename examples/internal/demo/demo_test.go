package demo

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lines passes each write to a channel: Run writes its one line to stdout
// in one write.
type lines chan string

func (l lines) Write(p []byte) (int, error) { l <- string(p); return len(p), nil }

func hello(r *continuity.Request) {
	for {
		r.Print("<!doctype html><title>t</title>hello")
		r.Next()
	}
}

// start runs Run on a goroutine with args and returns the URL it printed,
// a function that stops it and returns its error, and what it wrote to
// stderr (valid after stop).
func start(t *testing.T, args []string, build Build) (url string, stop func() error, stderr *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(lines, 1)
	stderr = new(bytes.Buffer)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, "demo", args, out, stderr, build) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(ShutdownTimeout + 5*time.Second):
			t.Fatal("Run did not return after its context was cancelled")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	select {
	case line := <-out:
		require.True(t, strings.HasPrefix(line, "listening on http://"), "printed %q", line)
		require.True(t, strings.HasSuffix(line, "/\n"), "printed %q", line)
		return strings.TrimSuffix(strings.TrimPrefix(line, "listening on "), "\n"), stop, stderr
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run printed no URL")
	}
	return
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestRun(t *testing.T) {
	url, stop, stderr := start(t, []string{"-addr", "127.0.0.1:0"}, App(hello))
	assert.NotContains(t, url, ":0/", "the real port is printed")

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	code, body := get(t, c, url)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "hello")

	// A session is alive, blocked in Next; shutting down ends it (goleak
	// checks) and Run returns nil.
	require.NoError(t, stop())
	assert.Contains(t, stderr.String(), "shutting down")
	_, err := c.Get(url)
	assert.Error(t, err, "still listening after shutdown")
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		want Config
	}{
		{nil, Config{Addr: "localhost:8080", IdleTimeout: 20 * time.Minute, MaxSessions: 10000}},
		{[]string{"-addr", "127.0.0.1:0", "-docroot", "/srv/www", "-idle", "90s", "-max-sessions", "5"},
			Config{Addr: "127.0.0.1:0", DocRoot: "/srv/www", IdleTimeout: 90 * time.Second, MaxSessions: 5}},
	}
	for _, tt := range tests {
		c, err := parse("demo", tt.args, io.Discard)
		require.NoError(t, err, "%q", tt.args)
		assert.Equal(t, tt.want, c, "%q", tt.args)
		opts := c.Options()
		assert.Equal(t, c.DocRoot, opts.DocRoot)
		assert.Equal(t, c.IdleTimeout, opts.IdleTimeout)
		assert.Equal(t, c.MaxSessions, opts.MaxSessions)
	}
}

func TestBadFlags(t *testing.T) {
	built := false
	build := func(Config) (Server, error) { built = true; return nil, errors.New("unreachable") }
	for _, args := range [][]string{
		{"-nope"},
		{"-idle", "soon"},
		{"-max-sessions", "0"},
		{"extra"},
	} {
		var stderr bytes.Buffer
		err := Run(context.Background(), "demo", args, io.Discard, &stderr, build)
		assert.ErrorIs(t, err, errUsage, "%q", args)
		assert.Contains(t, stderr.String(), "usage: demo", "%q", args)
	}
	err := Run(context.Background(), "demo", []string{"-h"}, io.Discard, io.Discard, build)
	assert.ErrorIs(t, err, flag.ErrHelp)
	assert.False(t, built, "built a server despite bad flags")
}

// TestBadDocRoot: a build error is returned before anything listens.
func TestBadDocRoot(t *testing.T) {
	err := Run(context.Background(), "demo", []string{"-addr", "127.0.0.1:0", "-docroot", t.TempDir() + "/missing"},
		io.Discard, io.Discard, App(hello))
	assert.ErrorContains(t, err, "DocRoot")
}

// TestListenError: when the address is taken, Run fails and shuts down
// the server it built (goleak checks its goroutines are gone).
func TestListenError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var srv *continuity.Server
	build := func(c Config) (Server, error) {
		s, err := continuity.New(hello, c.Options())
		srv = s
		return s, err
	}
	err = Run(context.Background(), "demo", []string{"-addr", l.Addr().String()}, io.Discard, io.Discard, build)
	require.Error(t, err)
	require.NotNil(t, srv)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "the server was not shut down")
}

func TestURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080/"},
		{"0.0.0.0:9000", "http://localhost:9000/"},
		{"[::]:9000", "http://localhost:9000/"},
		{"[::1]:9000", "http://[::1]:9000/"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		require.NoError(t, err)
		assert.Equal(t, tt.want, URL(addr), tt.addr)
	}
}
