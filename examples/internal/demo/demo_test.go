package demo

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/fcgitest"
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
	line, stop, stderr := startLine(t, args, build)
	require.True(t, strings.HasPrefix(line, "listening on http://"), "printed %q", line)
	require.True(t, strings.HasSuffix(line, "/"), "printed %q", line)
	return strings.TrimPrefix(line, "listening on "), stop, stderr
}

// startLine is start, returning the whole line Run printed.
func startLine(t *testing.T, args []string, build Build) (line string, stop func() error, stderr *bytes.Buffer) {
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
		require.True(t, strings.HasSuffix(line, "\n"), "printed %q", line)
		return strings.TrimSuffix(line, "\n"), stop, stderr
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
		{[]string{"-fcgi", "unix:/run/app.sock"},
			Config{Addr: "localhost:8080", FCGI: "unix:/run/app.sock", IdleTimeout: 20 * time.Minute, MaxSessions: 10000}},
		{[]string{"-fcgi=tcp:127.0.0.1:9000"},
			Config{Addr: "localhost:8080", FCGI: "tcp:127.0.0.1:9000", IdleTimeout: 20 * time.Minute, MaxSessions: 10000}},
		{[]string{"-redis", "redis://127.0.0.1:6390/0", "-node", "n1", "-keys-file", "/etc/keys", "-lease-ttl", "3s"},
			Config{Addr: "localhost:8080", IdleTimeout: 20 * time.Minute, MaxSessions: 10000,
				Redis: "redis://127.0.0.1:6390/0", Node: "n1", KeysFile: "/etc/keys", LeaseTTL: 3 * time.Second}},
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
		{"-fcgi", "/run/app.sock"},
		{"-fcgi", "unix:"},
		{"-fcgi", "tcp:9000"},
		{"-fcgi", "udp:127.0.0.1:9000"},
		{"-lease-ttl", "0"},
		{"-lease-ttl", "-1s"},
		{"-lease-ttl", "soon"},
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

// countEnds reads the text log lines of "session ended" for reason and
// returns how many lines there were and how many ends they account for: a
// line stands for one end, or for repeated=N more.
func countEnds(t *testing.T, log, reason string) (lines, ends int) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `msg="session ended"`) || !strings.Contains(line, `reason="`+reason+`"`) {
			continue
		}
		lines++
		_, rest, ok := strings.Cut(line, " repeated=")
		if !ok {
			ends++
			continue
		}
		n, err := strconv.Atoi(strings.Fields(rest)[0])
		require.NoError(t, err, line)
		ends += n
	}
	return lines, ends
}

// TestLogsStayBoundedUnderAFlood (issue 9 #7): the examples log each
// session's end; 100,000 evictions in 30 seconds write a bounded number of
// lines (a few per reason per LogSummaryInterval, the rest counted in a
// summary line), while the ends of a quiet reason are each still logged
// in full, and every end is accounted for.
func TestLogsStayBoundedUnderAFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		logger, flush := NewLogger(&buf)
		const (
			flood   = 100_000
			batches = 100 // one every 300ms: 30s in all
		)
		for b := range batches {
			for i := range flood / batches {
				logger.Info("session ended", "session", fmt.Sprintf("s%d-%d", b, i), "reason", "continuity: session evicted")
			}
			if b%10 == 0 {
				logger.Info("session ended", "session", fmt.Sprintf("q%d", b), "reason", "continuity: idle timeout")
			}
			time.Sleep(300 * time.Millisecond)
		}
		time.Sleep(time.Minute) // the last window's summary is written when it ends
		flush()
		log := buf.String()

		lines, ends := countEnds(t, log, "continuity: session evicted")
		assert.Equal(t, flood, ends, "every eviction is counted")
		windows := int((30*time.Second)/LogSummaryInterval) + 1
		assert.LessOrEqual(t, lines, windows*(LogBurst+1), "a bounded number of lines")
		assert.True(t, strings.Contains(log, "repeated="), "a summary line says how many")

		lines, ends = countEnds(t, log, "continuity: idle timeout")
		assert.Equal(t, batches/10, ends)
		assert.Equal(t, batches/10, lines, "a quiet reason is logged line by line")
		assert.Equal(t, batches/10, strings.Count(log, `session=q`), "with each session's id")
		assert.Less(t, len(log), 100<<10, "the log is kilobytes, not megabytes")
	})
}

// TestOptionsLogThroughTheSummary: the server's own log lines (not only
// the session-end hook's) go through the same bound.
func TestOptionsLogThroughTheSummary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		logger, flush := NewLogger(&buf)
		opts := Config{Logger: logger}.Options()
		for range 1000 {
			opts.Logger.Warn("continuity: session did not answer in time", "session", "x")
		}
		flush()
		assert.LessOrEqual(t, strings.Count(buf.String(), "\n"), LogBurst+1)
		assert.True(t, strings.Contains(buf.String(), "repeated="), "a summary line says how many")
	})
}

// syncBuffer is a bytes.Buffer safe for the summary's timer goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// counter counts a browser's requests.
func counter(r *continuity.Request) {
	for n := 1; ; n++ {
		r.Printf("<!doctype html><title>n</title>%d", n)
		r.Next()
	}
}

// TestRunFCGI: with -fcgi, Run serves FastCGI on a Unix socket or a TCP
// address instead of HTTP, says where, keeps sessions by their cookie,
// and shuts down when its context ends (the socket file removed, goleak
// checking that no connection is left).
func TestRunFCGI(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			where := network + ":127.0.0.1:0"
			if network == "unix" {
				where = "unix:" + filepath.Join(t.TempDir(), "counter.sock")
			}
			line, stop, stderr := startLine(t, []string{"-fcgi", where}, App(counter))
			addr, ok := strings.CutPrefix(line, "serving FastCGI on "+network+":")
			require.True(t, ok, "printed %q", line)
			if network == "unix" {
				assert.Equal(t, where, network+":"+addr)
			} else {
				assert.NotContains(t, addr, ":0", "the real port is printed")
			}

			jar, err := cookiejar.New(nil)
			require.NoError(t, err)
			c := &http.Client{Jar: jar, Transport: &fcgitest.Transport{Network: network, Addr: addr}}
			for _, want := range []string{"1", "2", "3"} {
				code, body := get(t, c, "http://app.test/")
				assert.Equal(t, http.StatusOK, code)
				assert.True(t, strings.HasSuffix(body, want), "page %q, want count %s", body, want)
			}
			other := &http.Client{Transport: c.Transport}
			_, body := get(t, other, "http://app.test/")
			assert.True(t, strings.HasSuffix(body, "1"), "another browser starts afresh: %q", body)

			require.NoError(t, stop())
			assert.Contains(t, stderr.String(), "shutting down")
			assert.NotContains(t, stderr.String(), "warning", "a loopback address is not warned about")
			if network == "unix" {
				_, err := os.Stat(addr)
				assert.ErrorIs(t, err, os.ErrNotExist, "the socket file is removed")
			}
		})
	}
}

// TestRunFCGIStaleSocket: a socket file left by a process that died is
// replaced; one a live server answers on is not.
func TestRunFCGIStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // as if its process died: the file stays, nobody answers
	_, err = os.Lstat(path)
	require.NoError(t, err)

	line, stop, _ := startLine(t, []string{"-fcgi", "unix:" + path}, App(counter))
	assert.Equal(t, "serving FastCGI on unix:"+path, line)

	var stderr bytes.Buffer
	err = Run(context.Background(), "demo", []string{"-fcgi", "unix:" + path}, io.Discard, &stderr, App(counter))
	assert.ErrorContains(t, err, "a server is listening there already")
	require.NoError(t, stop())
}

// TestMountScopesTheCookie: the tour's Config.Mount gives each example a
// cookie of its own name and path.
func TestMountScopesTheCookie(t *testing.T) {
	o := Config{Mount: "/counter/"}.Options()
	assert.Equal(t, "/counter/", o.CookiePath)
	assert.Equal(t, "cid-counter", o.CookieName)
	o = Config{}.Options()
	assert.Empty(t, o.CookiePath)
	assert.Empty(t, o.CookieName)
}
