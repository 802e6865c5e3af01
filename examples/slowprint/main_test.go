package main

import (
	"bufio"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStreamFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		lines int
		every time.Duration
		err   bool
	}{
		{args: nil, lines: 10, every: time.Second},
		{args: []string{"-lines", "3", "-every=20ms"}, lines: 3, every: 20 * time.Millisecond},
		{args: []string{"-every", "0s"}, lines: 10, every: 0},
		{args: []string{"-lines", "0"}, err: true},
		{args: []string{"-lines", "x"}, err: true},
		{args: []string{"-every", "-1s"}, err: true},
	} {
		lines, every := 10, time.Second
		fs := flag.NewFlagSet("slowprint", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		streamFlags(&lines, &every)(fs)
		err := fs.Parse(tc.args)
		if tc.err {
			assert.Error(t, err, "%q", tc.args)
			continue
		}
		require.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.lines, lines, "%q", tc.args)
		assert.Equal(t, tc.every, every, "%q", tc.args)
	}
}

// flushRecorder notes what the browser has received, and when, at each
// flush.
type flushRecorder struct {
	*httptest.ResponseRecorder
	at   []time.Time
	seen []string
}

func (w *flushRecorder) Flush() {
	w.ResponseRecorder.Flush()
	w.at = append(w.at, time.Now())
	w.seen = append(w.seen, w.Body.String())
}

// serveInBubble serves one request to srv in the synctest bubble, on a
// goroutine; done is closed when the handler returns.
func serveInBubble(srv http.Handler, req *http.Request) (w *flushRecorder, done chan struct{}) {
	w = &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	done = make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeHTTP(w, req)
	}()
	return w, done
}

func shutdown(t *testing.T, srv *continuity.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
}

// In a synctest bubble the clock is exact: line i reaches the browser
// (i-1)×every after the first, each in a flush of its own, in order.
func TestLinesArriveOneByOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := continuity.New(slowprint(5, time.Second), nil)
		require.NoError(t, err)
		defer shutdown(t, srv)

		start := time.Now()
		w, done := serveInBubble(srv, httptest.NewRequest(http.MethodGet, "/?stream", nil))
		<-done
		require.Len(t, w.at, 6, "the head, then one flush per line")
		for i := 1; i <= 5; i++ {
			assert.Equal(t, time.Duration(i-1)*time.Second, w.at[i].Sub(start), "line %d", i)
			got := w.seen[i]
			assert.Contains(t, got, `<li id="line-`+strconv.Itoa(i)+`">line `+strconv.Itoa(i)+` of 5</li>`)
			assert.NotContains(t, got, `id="line-`+strconv.Itoa(i+1)+`"`, "line %d came early", i+1)
		}
		assert.Equal(t, 4*time.Second, time.Since(start))
		webtest.CheckPage(t, w.Body.String())
		assert.Contains(t, w.Body.String(), `<p id="done">`)
	})
}

// When the browser hangs up after line 3, the session stops streaming at
// once: no line 4 is written, and the same browser's next request is
// answered at that very instant, not after the lines it left.
func TestStreamStopsWhenTheClientLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := continuity.New(slowprint(10, time.Second), nil)
		require.NoError(t, err)
		defer shutdown(t, srv)

		ctx, hangUp := context.WithCancel(context.Background())
		w, done := serveInBubble(srv, httptest.NewRequestWithContext(ctx, http.MethodGet, "/?stream", nil))
		time.Sleep(2500 * time.Millisecond) // lines 1, 2 and 3 are out
		hangUp()
		left := time.Now()
		<-done
		synctest.Wait()
		assert.Equal(t, left, time.Now(), "the handler waited after the client left")
		body := w.seen[len(w.seen)-1]
		assert.Contains(t, body, `id="line-3"`)
		assert.NotContains(t, body, `id="line-4"`)

		again := httptest.NewRequest(http.MethodGet, "/?stream", nil)
		for _, c := range w.Result().Cookies() {
			again.AddCookie(c)
		}
		ctx, hangUp = context.WithCancel(context.Background())
		defer hangUp()
		w2, done2 := serveInBubble(srv, again.WithContext(ctx))
		synctest.Wait()
		require.Len(t, w2.at, 2, "the next stream's first line")
		assert.Equal(t, left, w2.at[1], "the session was still streaming to nobody")
		assert.Contains(t, w2.seen[1], `id="line-1"`)
		assert.Empty(t, w2.Result().Cookies(), "the same session, not a new one")
		hangUp()
		<-done2
	})
}

// Over real HTTP: the first line arrives while the rest are an hour away
// (so it was flushed, not buffered), and after the browser hangs up the
// same browser is served again at once (so the session stopped waiting
// to write to nobody).
func TestSlowprintOverHTTP(t *testing.T) {
	srv, err := continuity.New(slowprint(3, time.Hour), nil)
	require.NoError(t, err)
	ts := webtest.Serve(t, srv, srv)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Transport: ts.Client().Transport}

	for range 2 {
		ctx, hangUp := context.WithCancel(t.Context())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/?stream", nil)
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		first := readUntil(t, bufio.NewReader(resp.Body), "</li>")
		assert.Contains(t, first, `<li id="line-1">line 1 of 3</li>`)
		assert.NotContains(t, first, `line-2`)
		hangUp()
		resp.Body.Close()
	}
	assert.Equal(t, 1, srv.Metrics().LiveSessions, "one browser, one session")

	// The start page links to the stream; a whole stream, with no wait
	// between lines, is one small page, whose link streams again.
	fast, err := continuity.New(slowprint(3, 0), nil)
	require.NoError(t, err)
	fastTS := webtest.Serve(t, fast, fast)
	b := webtest.NewBrowser(t, fastTS)
	start := b.Get(fastTS.URL + "/")
	assert.Contains(t, start, "3 lines, one every 0s")
	page := b.Get(webtest.Resolve(t, fastTS.URL+"/", webtest.Find(t, start, `<a href="([^"]+)">Start</a>`)))
	page = b.Get(webtest.Resolve(t, fastTS.URL+"/", webtest.Find(t, page, `<a href="([^"]+)">Again</a>`)))
	for _, line := range []string{"line 1 of 3", "line 2 of 3", "line 3 of 3", `id="done"`} {
		assert.Contains(t, page, line)
	}
	assert.Less(t, strings.Index(page, "line 1 of"), strings.Index(page, "line 3 of"))
}

// readUntil reads the response until it has read marker.
func readUntil(t *testing.T, rd *bufio.Reader, marker string) string {
	t.Helper()
	var sb strings.Builder
	for !strings.Contains(sb.String(), marker) {
		line, err := rd.ReadString('\n')
		sb.WriteString(line)
		require.NoError(t, err, "read so far: %s", sb.String())
	}
	return sb.String()
}
