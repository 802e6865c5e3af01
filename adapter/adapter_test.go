package adapter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "hello")
})

// serve runs hs on a fresh loopback listener and closes it at the end of
// the test.
func serve(t *testing.T, hs *http.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()
	t.Cleanup(func() {
		// Shutdown, not Close: it waits for connections to finish, such
		// as one net/http keeps for half a second after a 431.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, hs.Shutdown(ctx))
		assert.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return l.Addr().String()
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

func TestNewServerDefaults(t *testing.T) {
	hs := adapter.NewServer("127.0.0.1:8080", hello, adapter.Config{})
	assert.Equal(t, "127.0.0.1:8080", hs.Addr)
	assert.NotNil(t, hs.Handler)
	assert.Equal(t, 10*time.Second, hs.ReadHeaderTimeout)
	assert.Equal(t, 60*time.Second, hs.ReadTimeout)
	assert.Equal(t, 120*time.Second, hs.IdleTimeout)
	assert.Equal(t, 64<<10, hs.MaxHeaderBytes)
	assert.Zero(t, hs.WriteTimeout, "a global write timeout would cut off streams")
	assert.Nil(t, hs.TLSConfig)
	assert.Nil(t, hs.ErrorLog)

	// The exported constants are the documented values.
	assert.Equal(t, 10*time.Second, adapter.DefaultReadHeaderTimeout)
	assert.Equal(t, 60*time.Second, adapter.DefaultReadTimeout)
	assert.Equal(t, 120*time.Second, adapter.DefaultIdleTimeout)
	assert.Equal(t, 64<<10, adapter.DefaultMaxHeaderBytes)
}

func TestNewServerHonoursOverrides(t *testing.T) {
	lg := quietLog()
	c := adapter.Config{
		ReadHeaderTimeout: time.Second,
		ReadTimeout:       2 * time.Second,
		WriteTimeout:      3 * time.Second,
		IdleTimeout:       4 * time.Second,
		MaxHeaderBytes:    5000,
		ErrorLog:          lg,
	}
	hs := adapter.NewServer(":0", hello, c)
	assert.Equal(t, time.Second, hs.ReadHeaderTimeout)
	assert.Equal(t, 2*time.Second, hs.ReadTimeout)
	assert.Equal(t, 3*time.Second, hs.WriteTimeout)
	assert.Equal(t, 4*time.Second, hs.IdleTimeout)
	assert.Equal(t, 5000, hs.MaxHeaderBytes)
	assert.Same(t, lg, hs.ErrorLog)

	// Overriding one limit leaves the others at their defaults.
	hs = adapter.NewServer(":0", hello, adapter.Config{ReadTimeout: time.Second})
	assert.Equal(t, time.Second, hs.ReadTimeout)
	assert.Equal(t, adapter.DefaultReadHeaderTimeout, hs.ReadHeaderTimeout)
	assert.Equal(t, adapter.DefaultIdleTimeout, hs.IdleTimeout)
	assert.Equal(t, adapter.DefaultMaxHeaderBytes, hs.MaxHeaderBytes)
}

// TestSlowlorisIsCutOffWhileOthersAreServed (checklist D1): a client that
// starts a request and stalls in its headers is disconnected after
// ReadHeaderTimeout, and a well-behaved client is served meanwhile.
func TestSlowlorisIsCutOffWhileOthersAreServed(t *testing.T) {
	const timeout = 150 * time.Millisecond
	addr := serve(t, adapter.NewServer("", hello, adapter.Config{ReadHeaderTimeout: timeout, ErrorLog: quietLog()}))

	began := time.Now() // before the server can start its header clock
	slow, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer slow.Close()
	_, err = io.WriteString(slow, "GET / HTTP/1.1\r\n")
	require.NoError(t, err)

	// A well-behaved client is served while the slow one stalls.
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "hello", string(body))
	c.CloseIdleConnections()

	// The slow client gets no response and is disconnected once the
	// header timeout has passed (the read ends with EOF or a reset, not
	// with our own safety deadline).
	require.NoError(t, slow.SetReadDeadline(time.Now().Add(5*time.Second)))
	got, err := io.ReadAll(slow)
	elapsed := time.Since(began)
	var ne net.Error
	if errors.As(err, &ne) {
		require.False(t, ne.Timeout(), "the server never closed the stalled connection")
	}
	assert.NotContains(t, string(got), "hello")
	assert.GreaterOrEqual(t, elapsed, timeout, "closed before the header timeout")
}

func TestOversizedHeadersGet431(t *testing.T) {
	tests := []struct {
		name   string
		cfg    adapter.Config
		header int
		want   int
	}{
		// net/http allows 4 KiB of slack over MaxHeaderBytes.
		{"default: 32 KiB fits", adapter.Config{}, 32 << 10, http.StatusOK},
		{"default: 100 KiB is over 64 KiB", adapter.Config{}, 100 << 10, http.StatusRequestHeaderFieldsTooLarge},
		{"configured 1 KiB: 2 KiB fits in the slack", adapter.Config{MaxHeaderBytes: 1 << 10}, 2 << 10, http.StatusOK},
		{"configured 1 KiB: 8 KiB is over", adapter.Config{MaxHeaderBytes: 1 << 10}, 8 << 10, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each server lingers 0.5s after a 431; overlap them
			var reached atomic.Bool
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached.Store(true)
				io.WriteString(w, "hello")
			})
			tc.cfg.ErrorLog = quietLog()
			addr := serve(t, adapter.NewServer("", h, tc.cfg))
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
			require.NoError(t, err)
			req.Header.Set("X-Big", strings.Repeat("a", tc.header))
			c := &http.Client{Timeout: 5 * time.Second}
			defer c.CloseIdleConnections()
			resp, err := c.Do(req)
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.Equal(t, tc.want, resp.StatusCode)
			assert.Equal(t, tc.want == http.StatusOK, reached.Load(), "the handler runs only for requests within the limit")
		})
	}
}

func TestMountStripsThePrefix(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path+"|"+r.URL.RawQuery)
	})
	for _, prefix := range []string{"/app/", "/app"} {
		t.Run(prefix, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle("/app/", adapter.Mount(prefix, echo))
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "outside") })
			for _, tc := range []struct{ target, want string }{
				{"/app/", "/|"},
				{"/app/step?n=2", "/step|n=2"},
				{"/app/a/b", "/a/b|"},
				{"/app/a%2Fb", "/a/b|"},
				{"/other", "outside"},
				{"/application", "outside"},
			} {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.target, nil))
				assert.Equal(t, http.StatusOK, rec.Code, tc.target)
				assert.Equal(t, tc.want, rec.Body.String(), tc.target)
			}
			// "/app" itself is redirected by the mux to "/app/".
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/app", nil))
			assert.GreaterOrEqual(t, rec.Code, 300)
			assert.Less(t, rec.Code, 400)
			assert.Equal(t, "/app/", rec.Header().Get("Location"))
		})
	}
}

// TestMountUsedDirectlyMatchesWholeSegments: used as a top-level handler
// (without a mux in front), Mount must not treat "/application" as being
// under "/app" and hand h a path without its leading slash.
func TestMountUsedDirectlyMatchesWholeSegments(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	})
	for _, prefix := range []string{"/app/", "/app"} {
		h := adapter.Mount(prefix, echo)
		for _, tc := range []struct {
			target string
			code   int
			body   string
		}{
			{"/app/", 200, "/"},
			{"/app/x/y", 200, "/x/y"},
			{"/application", 404, ""},
			{"/apple/x", 404, ""},
			{"/other", 404, ""},
		} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.target, nil))
			assert.Equal(t, tc.code, rec.Code, "%s %s", prefix, tc.target)
			if tc.code == 200 {
				assert.Equal(t, tc.body, rec.Body.String(), "%s %s", prefix, tc.target)
			}
		}
	}
	// Mounting at the root changes nothing.
	for _, prefix := range []string{"/", ""} {
		h := adapter.Mount(prefix, echo)
		for _, target := range []string{"/", "/app/x", "/application"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
			assert.Equal(t, http.StatusOK, rec.Code, "%q %s", prefix, target)
			assert.Equal(t, target, rec.Body.String(), "%q %s", prefix, target)
		}
	}
}

func TestMountedContinuityServerKeepsSessions(t *testing.T) {
	srv, err := continuity.New(counter, nil)
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	}()
	mux := http.NewServeMux()
	mux.Handle("/app/", adapter.Mount("/app", srv))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/app/", nil))
	require.Equal(t, "1", rec.Body.String())
	cookie := rec.Header().Get("Set-Cookie")
	require.NotEmpty(t, cookie)
	for _, want := range []string{"2", "3"} {
		req := httptest.NewRequest(http.MethodGet, "/app/x", nil)
		req.Header.Set("Cookie", strings.Split(cookie, ";")[0])
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		assert.Equal(t, want, rec.Body.String())
	}
}

// counter is the canonical continuity app.
func counter(r *continuity.Request) {
	for i := 1; ; i++ {
		r.Printf("%d", i)
		r.Next()
	}
}

// TestServeFCGIRoundTrip runs a real continuity server behind ServeFCGI and
// talks FastCGI to it, as nginx would.
func TestServeFCGIRoundTrip(t *testing.T) {
	srv, err := continuity.New(counter, nil)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- adapter.ServeFCGI(l, srv) }()
	t.Cleanup(func() {
		l.Close()
		<-done // fcgi.Serve returns the Accept error once l is closed
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	addr := l.Addr().String()

	resp := fcgiGet(t, addr, "/counter", "")
	assert.Equal(t, 200, resp.status)
	assert.Equal(t, "1", resp.body)
	assert.Equal(t, "no-store", resp.header.Get("Cache-Control"))
	var cid string
	for _, sc := range resp.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "cid=") {
			cid = strings.Split(sc, ";")[0]
			assert.Contains(t, sc, "HttpOnly")
		}
	}
	require.NotEmpty(t, cid, "the first response sets the session cookie")

	for _, want := range []string{"2", "3"} {
		resp = fcgiGet(t, addr, "/counter", cid)
		assert.Equal(t, 200, resp.status)
		assert.Equal(t, want, resp.body)
		assert.Empty(t, resp.header.Values("Set-Cookie"), "a known session gets no new cookie")
	}

	// A request without the cookie is another browser: a new session.
	resp = fcgiGet(t, addr, "/counter", "")
	assert.Equal(t, "1", resp.body)
	assert.NotEmpty(t, resp.header.Values("Set-Cookie"))
	assert.Equal(t, uint64(2), srv.Metrics().SessionsCreated)
}

// A minimal FastCGI client (FastCGI 1.0 specification, responder role).

const (
	fcgiVersion      = 1
	fcgiBeginRequest = 1
	fcgiEndRequest   = 3
	fcgiParams       = 4
	fcgiStdin        = 5
	fcgiStdout       = 6
	fcgiStderr       = 7
	fcgiResponder    = 1
)

func fcgiRecord(w *bytes.Buffer, typ uint8, id uint16, content []byte) {
	h := [8]byte{fcgiVersion, typ}
	binary.BigEndian.PutUint16(h[2:], id)
	binary.BigEndian.PutUint16(h[4:], uint16(len(content)))
	pad := (8 - len(content)%8) % 8
	h[6] = uint8(pad)
	w.Write(h[:])
	w.Write(content)
	w.Write(make([]byte, pad))
}

func fcgiLen(b *bytes.Buffer, n int) {
	if n < 128 {
		b.WriteByte(byte(n))
		return
	}
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(n)|1<<31)
	b.Write(l[:])
}

func fcgiPairs(params [][2]string) []byte {
	var b bytes.Buffer
	for _, p := range params {
		fcgiLen(&b, len(p[0]))
		fcgiLen(&b, len(p[1]))
		b.WriteString(p[0])
		b.WriteString(p[1])
	}
	return b.Bytes()
}

type fcgiResponse struct {
	status int
	header textproto.MIMEHeader
	body   string
	stderr string
	app    uint32 // appStatus from END_REQUEST
}

// fcgiGet sends one GET for uri over a new connection (no keep-alive, so
// the application closes it) and parses the CGI-style response.
func fcgiGet(t *testing.T, addr, uri, cookie string) fcgiResponse {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))

	const id = 1
	var out bytes.Buffer
	fcgiRecord(&out, fcgiBeginRequest, id, []byte{0, fcgiResponder, 0, 0, 0, 0, 0, 0})
	params := [][2]string{
		{"GATEWAY_INTERFACE", "CGI/1.1"},
		{"REQUEST_METHOD", "GET"},
		{"REQUEST_URI", uri},
		{"SCRIPT_NAME", uri},
		{"QUERY_STRING", ""},
		{"SERVER_PROTOCOL", "HTTP/1.1"},
		{"SERVER_NAME", "example.test"},
		{"SERVER_PORT", "80"},
		{"REMOTE_ADDR", "192.0.2.7"},
		{"REMOTE_PORT", "54321"},
		{"HTTP_HOST", "example.test"},
		{"HTTP_USER_AGENT", "fcgi-test"},
		{"CONTENT_LENGTH", "0"},
	}
	if cookie != "" {
		params = append(params, [2]string{"HTTP_COOKIE", cookie})
	}
	fcgiRecord(&out, fcgiParams, id, fcgiPairs(params))
	fcgiRecord(&out, fcgiParams, id, nil)
	fcgiRecord(&out, fcgiStdin, id, nil)
	_, err = conn.Write(out.Bytes())
	require.NoError(t, err)

	var stdout, stderr bytes.Buffer
	var resp fcgiResponse
	rd := bufio.NewReader(conn)
	for ended := false; !ended; {
		var h [8]byte
		_, err := io.ReadFull(rd, h[:])
		require.NoError(t, err, "connection ended before END_REQUEST")
		require.Equal(t, uint8(fcgiVersion), h[0])
		require.Equal(t, uint16(id), binary.BigEndian.Uint16(h[2:]))
		content := make([]byte, int(binary.BigEndian.Uint16(h[4:]))+int(h[6]))
		_, err = io.ReadFull(rd, content)
		require.NoError(t, err)
		content = content[:binary.BigEndian.Uint16(h[4:])]
		switch h[1] {
		case fcgiStdout:
			stdout.Write(content)
		case fcgiStderr:
			stderr.Write(content)
		case fcgiEndRequest:
			require.Len(t, content, 8)
			resp.app = binary.BigEndian.Uint32(content)
			assert.Equal(t, uint8(0), content[4], "protocol status: request complete")
			ended = true
		default:
			t.Fatalf("unexpected record type %d", h[1])
		}
	}
	resp.stderr = stderr.String()

	tp := textproto.NewReader(bufio.NewReader(&stdout))
	hdr, err := tp.ReadMIMEHeader()
	require.NoError(t, err, "CGI response head")
	resp.header = hdr
	resp.status = 200
	if st := hdr.Get("Status"); st != "" {
		code, _, _ := strings.Cut(st, " ")
		resp.status, err = strconv.Atoi(code)
		require.NoError(t, err)
	}
	body, err := io.ReadAll(tp.R)
	require.NoError(t, err)
	resp.body = string(body)
	assert.Empty(t, resp.stderr)
	return resp
}

// trickle sends head at once, then the bytes of rest one at a time every
// 50ms, as a slow client does, until the server hangs up. It returns a
// channel that yields what the client read back once the server has
// closed the connection (or after 10s, when it never does).
func trickle(t *testing.T, addr, head, rest string) <-chan string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < len(rest); i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{rest[i]}); err != nil {
				return
			}
		}
	}()
	got := make(chan string, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			b = append(b, "(still open after 10s)"...)
		}
		close(stop)
		<-wrote
		got <- string(b)
	}()
	return got
}

// TestShutdownDoesNotWaitForSlowClients (issue 8 #17): clients still
// sending a request a byte at a time (its headers, a body the handler
// reads, a body it ignores) cannot hold a graceful shutdown until the 60s
// ReadTimeout: Shutdown cuts what is still being received and returns nil,
// while a handler whose request was read in full finishes its answer, its
// context intact.
func TestShutdownDoesNotWaitForSlowClients(t *testing.T) {
	entered := make(chan string, 3)
	release := make(chan struct{})
	busyCtx := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/form":
			entered <- "form"
			if err := r.ParseForm(); err != nil {
				http.Error(w, "400 incomplete", http.StatusBadRequest)
				return
			}
			io.WriteString(w, "form read")
		case "/ignore":
			entered <- "ignore"
			io.WriteString(w, "body ignored")
		case "/busy":
			io.ReadAll(r.Body)
			entered <- "busy"
			<-release
			busyCtx <- r.Context().Err()
			io.WriteString(w, "done")
		}
	})
	hs := adapter.NewServer("", h, adapter.Config{ErrorLog: quietLog()})
	news := make(chan struct{}, 10)
	connState := hs.ConnState
	hs.ConnState = func(c net.Conn, s http.ConnState) {
		if connState != nil {
			connState(c, s)
		}
		if s == http.StateNew {
			news <- struct{}{}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()
	addr := l.Addr().String()

	headers := trickle(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n", "X-Slow: "+strings.Repeat("a", 1000))
	<-news // the server has the connection, and waits for its headers
	const post = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
	form := trickle(t, addr, fmt.Sprintf(post, "/form"), strings.Repeat("a", 1000))
	ignore := trickle(t, addr, fmt.Sprintf(post, "/ignore"), strings.Repeat("a", 1000))
	busy := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/busy", "text/plain", strings.NewReader("all at once"))
		if err != nil {
			busy <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		busy <- string(b)
	}()
	for range 3 {
		<-entered
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- hs.Shutdown(ctx) }()
	for name, got := range map[string]<-chan string{"headers": headers, "form": form, "ignore": ignore} {
		assert.NotContains(t, <-got, "still open", "%s: the slow client is cut at shutdown", name)
	}
	close(release)
	assert.Equal(t, "done", <-busy, "a request read in full is answered")
	assert.NoError(t, <-busyCtx, "and its handler's context was not cancelled")
	require.NoError(t, <-shut, "slow clients do not make the shutdown fail")
	assert.ErrorIs(t, <-served, http.ErrServerClosed)
}

// TestNewServerRemovesMultipartTempFiles: the handler sees a copy of the
// request (see NewServer); the temporary files of a multipart form it
// parses are still removed after the response, as net/http does.
func TestNewServerRemovesMultipartTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1); err != nil { // every file goes to disk
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		files, _ := os.ReadDir(tmp)
		fmt.Fprintf(w, "%d", len(files))
	})
	addr := serve(t, adapter.NewServer("", h, adapter.Config{ErrorLog: quietLog()}))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("f", "f.txt")
	require.NoError(t, err)
	fw.Write(bytes.Repeat([]byte("x"), 100<<10))
	require.NoError(t, mw.Close())
	resp, err := http.Post("http://"+addr+"/", mw.FormDataContentType(), &body)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "1", string(b), "the file went to disk while the handler ran")
	files, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, files, "and was removed after")
}
