package continuity_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs app behind a real HTTP server and shuts both down at the end
// of the test.
func start(t testing.TB, app func(*continuity.Request), opts *continuity.Options) (*continuity.Server, *httptest.Server) {
	t.Helper()
	srv, err := continuity.New(app, opts)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		ts.Close()
	})
	return srv, ts
}

// browser is an HTTP client with its own cookie jar that does not follow
// redirects.
func browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get fetches url and returns the status and body.
func get(t testing.TB, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// counter is the canonical continuity app: a local variable that survives
// between requests.
func counter(r *continuity.Request) {
	for i := 1; ; i++ {
		r.Printf("%d", i)
		r.Next()
	}
}

// logBuffer is a concurrency-safe log sink for asserting on log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger(w io.Writer) *slog.Logger {
	if w == nil {
		w = io.Discard
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func quietLogger() *slog.Logger { return newLogger(nil) }

const (
	testTimeout = 5 * time.Second
	tick        = 5 * time.Millisecond
)

type httptestServer = httptest.Server

func newHTTPTest(h http.Handler, useTLS bool) *httptest.Server {
	if useTLS {
		return httptest.NewTLSServer(h)
	}
	return httptest.NewServer(h)
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
