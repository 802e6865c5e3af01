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

// pipeListener is an in-memory [net.Listener] for servers inside a
// testing/synctest bubble, where real sockets are not durably blocking (the
// fake clock would never advance while a goroutine waits on one): each
// dial is a [net.Pipe], whose reads, writes and deadlines are.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// Dial connects to the listener; its signature is http.Transport's
// DialContext.
func (l *pipeListener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	return nil, net.ErrClosed
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// bubbleBase is the URL of a server started by startInBubble; any host
// would do, since every dial goes to the pipe listener.
const bubbleBase = "http://continuity.test"

// A bubbleServer is a continuity server serving on a pipeListener inside a
// synctest bubble (srv.Serve, so with the adapter's limits), and the
// browsers that talk to it.
type bubbleServer struct {
	*continuity.Server
	ln *pipeListener
}

// startInBubble must be called inside synctest.Test: it starts app there,
// and the test's cleanup (which runs inside the bubble) shuts it down and
// closes every browser's connections, so that the bubble's goroutines end.
func startInBubble(t *testing.T, app func(*continuity.Request), opts *continuity.Options) *bubbleServer {
	t.Helper()
	srv, err := continuity.New(app, opts)
	require.NoError(t, err)
	ln := newPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		require.ErrorIs(t, <-served, http.ErrServerClosed)
	})
	return &bubbleServer{Server: srv, ln: ln}
}

// browser is the package's browser (a cookie jar, no redirects) dialling
// the pipe listener.
func (b *bubbleServer) browser(t *testing.T) *http.Client {
	t.Helper()
	c := browser(t)
	c.Timeout = 0 // the bubble reports a deadlock instead, at once
	tr := &http.Transport{DialContext: b.ln.Dial}
	t.Cleanup(tr.CloseIdleConnections)
	c.Transport = tr
	return c
}

// get fetches path with c and returns the status and body.
func (b *bubbleServer) get(t *testing.T, c *http.Client, path string) (int, string) {
	t.Helper()
	return get(t, c, bubbleBase+path)
}
