package continuity_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// Tests of the hand-off between the HTTP handlers and the session
// goroutines, over real HTTP: issue 8 (#1, #5, #13, #14, #15) and issue 9
// (#3, #4).

// doAsync sends req with c on its own goroutine and reports the error, if
// any, once the body has been read.
func doAsync(c *http.Client, req *http.Request) <-chan error {
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	return errc
}

// Issue 8 #1: the BeforeCommit check read the exchange's state without its
// lock while the handler goroutine, seeing the client gone, wrote it under
// the lock. go test -race reported it.
func TestBeforeCommitHookAfterTheClientHasGone(t *testing.T) {
	taken := make(chan struct{})
	wrote := make(chan error, 1)
	app := func(r *continuity.Request) {
		close(taken)
		<-r.RequestContext().Done()
		// Let the handler goroutine mark the request abandoned first: the
		// race detector sees the unlocked read only when it comes after
		// that write (a sleep adds no happens-before edge). A slow machine
		// can only make this test pass wrongly, never fail wrongly.
		time.Sleep(50 * time.Millisecond)
		_, err := r.Write([]byte("late"))
		wrote <- err
		r.Next()
	}
	hooks := continuity.Hooks{BeforeCommit: func(r *continuity.Request) { r.Header().Set("X-Hooked", "yes") }}
	_, ts := start(t, app, &continuity.Options{Hooks: hooks, Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/", nil)
	require.NoError(t, err)
	errc := doAsync(ts.Client(), req)
	<-taken
	cancel()
	require.Error(t, <-errc)
	assert.ErrorIs(t, <-wrote, continuity.ErrClientGone)
}

// Issue 8 #13: requests whose client has gone leave the queue at once.
// Before, reloads abandoned during a busy task kept their slots, and the
// next request got 503 "too many requests queued".
func TestAbandonedRequestsDoNotFillTheQueue(t *testing.T) {
	holding := make(chan struct{})
	release := make(chan struct{})
	app := func(r *continuity.Request) {
		r.Print("warm")
		r.Next()
		close(holding)
		<-release
		for {
			r.Print(r.Param("n"))
			r.Next()
		}
	}
	const depth = 4
	srv, ts := start(t, app, &continuity.Options{QueueDepth: depth, Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")
	busy := make(chan string, 1)
	go func() { _, b := get(t, c, ts.URL+"/?n=busy"); busy <- b }()
	<-holding
	for i := range 2 * depth { // reloads, each abandoned while queued
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/?n=reload", nil)
		require.NoError(t, err)
		errc := doAsync(c, req)
		require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 2 }, testTimeout, tick, "reload %d", i)
		cancel()
		require.Error(t, <-errc)
		require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 1 }, testTimeout, tick)
	}
	last := make(chan int, 1)
	go func() { code, _ := get(t, c, ts.URL+"/?n=last"); last <- code }()
	require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 2 || len(last) == 1 }, testTimeout, tick)
	close(release)
	assert.Equal(t, "busy", <-busy)
	assert.Equal(t, http.StatusOK, <-last, "the abandoned reloads left the queue")
}

// Issue 8 #5: when an app returns while requests are queued for its
// session, its end (cleanups, SessionEnd) comes before the start of the
// session that takes those requests; so it does for a browser that comes
// back while its old session is still ending.
func TestSessionEndsBeforeItsSuccessorStarts(t *testing.T) {
	for _, queued := range []bool{true, false} {
		t.Run(fmt.Sprintf("queued=%v", queued), func(t *testing.T) {
			ev := &events{}
			started := make(chan struct{}, 8)
			holding := make(chan struct{})
			release := make(chan struct{})
			app := func(r *continuity.Request) {
				r.Session().Cleanup(func() {
					ev.add("cleanup")
					// Give a successor the time to start too early: with
					// the bug it starts while this cleanup runs. (A slow
					// machine can only make this test pass wrongly.)
					select {
					case <-started:
					case <-time.After(100 * time.Millisecond):
					}
				})
				r.Print("warm")
				r.Next()
				if queued {
					close(holding)
					<-release
				}
				r.Print("bye") // returning ends the session
			}
			hooks := continuity.Hooks{
				SessionStart: func(*continuity.Session) {
					ev.add("start")
					select {
					case started <- struct{}{}:
					default:
					}
				},
				SessionEnd: func(_ *continuity.Session, why error) { ev.add("end: " + why.Error()) },
			}
			srv, ts := start(t, app, &continuity.Options{Hooks: hooks, Logger: quietLogger()})
			c := browser(t)
			_, b := get(t, c, ts.URL+"/")
			require.Equal(t, "warm", b)
			<-started
			if queued {
				bye := make(chan string, 1)
				go func() { _, b := get(t, c, ts.URL+"/?n=bye"); bye <- b }()
				<-holding
				next := make(chan string, 1)
				go func() { _, b := get(t, c, ts.URL+"/?n=next"); next <- b }()
				require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 2 }, testTimeout, tick)
				close(release)
				assert.Equal(t, "bye", <-bye)
				assert.Equal(t, "warm", <-next, "the queued request went to a new session")
			} else {
				_, b = get(t, c, ts.URL+"/?n=bye")
				require.Equal(t, "bye", b)
				_, b = get(t, c, ts.URL+"/?n=next") // while the old session ends
				assert.Equal(t, "warm", b)
			}
			assert.Equal(t, []string{"start", "cleanup", "end: " + continuity.EndReturned.Error(), "start"}, ev.all())
		})
	}
}

// Issue 8 #15: a panic after the response has started aborts the
// connection, as net/http does, so the client sees a broken response, not
// a clean, truncated 200.
func TestPanicAfterAPartialWriteAbortsTheResponse(t *testing.T) {
	for _, flushed := range []bool{true, false} {
		t.Run(fmt.Sprintf("flushed=%v", flushed), func(t *testing.T) {
			app := func(r *continuity.Request) {
				r.Print(strings.Repeat("x", 8<<10))
				if flushed {
					require.NoError(t, r.Flush())
				}
				panic("boom")
			}
			_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
			c := browser(t)
			resp, err := c.Get(ts.URL + "/")
			if err == nil {
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the client must see a broken response")
		})
	}
}

// Issue 9 #4: the bytes that queued requests hold are bounded per session
// and in total; beyond either, 503 with Retry-After.
func TestQueuedBodiesAreBounded(t *testing.T) {
	release := make(chan struct{})
	holding := make(chan struct{}, 2)
	app := func(r *continuity.Request) {
		r.Print("warm")
		r.Next()
		holding <- struct{}{}
		<-release
		for {
			r.Print(r.Param("n"))
			r.Next()
		}
	}
	const kib = 1 << 10
	srv, ts := start(t, app, &continuity.Options{
		MaxQueuedBytes:      100 * kib,
		MaxQueuedBytesTotal: 150 * kib,
		Logger:              quietLogger(),
	})
	post := func(c *http.Client, n string, size int) (int, string, string) {
		form := url.Values{"n": {n}, "pad": {strings.Repeat("x", size)}}
		resp, err := c.PostForm(ts.URL+"/", form)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	}
	var wg sync.WaitGroup
	queue := func(c *http.Client, n string, size int) {
		wg.Go(func() {
			code, _, b := post(c, n, size)
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, n, b)
		})
	}
	a, b := browser(t), browser(t)
	for _, c := range []*http.Client{a, b} {
		get(t, c, ts.URL+"/")
		wg.Go(func() { get(t, c, ts.URL+"/?n=busy") })
		<-holding
	}

	queue(a, "a1", 60*kib)
	require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 3 }, testTimeout, tick)
	code, retry, body := post(a, "a2", 60*kib) // 120 KiB queued for a
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.NotEmpty(t, retry)
	assert.Contains(t, body, "queued requests hold too many bytes")

	queue(b, "b1", 60*kib)
	require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 4 }, testTimeout, tick)
	code, retry, body = post(b, "b2", 30*kib) // 90 KiB for b, but 150 KiB and more in all
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.NotEmpty(t, retry)
	assert.Contains(t, body, "server busy: queued requests hold too many bytes")

	close(release)
	wg.Wait()
}

// dial connects to l (see Dial) for a test that speaks HTTP on the
// connection itself.
func (l *pipeListener) dial() net.Conn {
	c, err := l.Dial(context.Background(), "", "")
	if err != nil {
		panic(err) // the listener is closed: the test is over
	}
	return c
}

// serveInBubble serves srv over a pipeListener in the current synctest
// bubble until the test ends.
func serveInBubble(t *testing.T, srv *continuity.Server) *pipeListener {
	l := newPipeListener()
	hs := &http.Server{Handler: srv}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, hs.Shutdown(context.Background()))
		assert.ErrorIs(t, <-served, http.ErrServerClosed)
	})
	return l
}

// roundTrip sends one GET over conn and reads the response head.
func roundTrip(t *testing.T, conn net.Conn, target string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://pipe"+target, nil)
	require.NoError(t, err)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	go req.Write(conn) // a pipe write waits for the server to read
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	require.NoError(t, err)
	return resp
}

// within receives from c, failing the test if nothing comes within d of
// the bubble's fake time (the reaper's ticker keeps the fake clock moving,
// so a stuck wait would otherwise never end).
func within[T any](t *testing.T, d time.Duration, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(d):
		t.Fatalf("nothing within %v", d)
		panic("unreachable")
	}
}

// Issue 9 #3: a client that stops reading cannot pin a session: each
// write of the session's response gets WriteTimeout to go through, the
// write that stalls fails with the deadline, and the session carries on.
func TestDeadReaderIsCutByTheWriteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const writeTimeout = 2 * time.Second
		type result struct {
			err  error
			took time.Duration
		}
		res := make(chan result, 1)
		app := func(r *continuity.Request) {
			for r.Param("big") == "" {
				r.Print("small")
				r.Next()
			}
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			var err error
			for err == nil { // a slow but live reader would get it all
				began := time.Now()
				_, err = r.Write(chunk)
				if err != nil {
					res <- result{err, time.Since(began)}
				}
			}
			r.Next()
			r.Print("carried on")
			r.Next()
		}
		srv, err := continuity.New(app, &continuity.Options{WriteTimeout: writeTimeout, Logger: quietLogger()})
		require.NoError(t, err)
		l := serveInBubble(t, srv)

		conn := l.dial()
		defer conn.Close()
		resp := roundTrip(t, conn, "/")
		body, err := io.ReadAll(io.LimitReader(resp.Body, 5))
		require.NoError(t, err)
		require.Equal(t, "small", string(body))
		cookies := resp.Cookies()

		resp = roundTrip(t, conn, "/?big=1", cookies...) // then read no more
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		got := within(t, time.Minute, res)
		assert.ErrorIs(t, got.err, os.ErrDeadlineExceeded)
		assert.Equal(t, writeTimeout, got.took, "the stalled write is cut at the bound")

		conn2 := l.dial()
		defer conn2.Close()
		resp = roundTrip(t, conn2, "/", cookies...)
		body, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "carried on", string(body))
	})
}

// Issue 8 #14: an app that never answers is ended: the request gets 503
// after the response timeout, the session's cleanups and SessionEnd run
// once with EndUnresponsive, the end is logged and counted, and the
// browser's next request gets a fresh session.
func TestUnresponsiveSessionIsEndedAndTheBrowserStartsAfresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		release := make(chan struct{})
		returned := make(chan struct{})
		app := func(r *continuity.Request) {
			r.Session().Cleanup(func() { ev.add("cleanup") })
			if r.Param("hang") != "" {
				defer close(returned)
				<-release // never answers in time
				return
			}
			r.Print("fresh")
			r.Next()
		}
		var logs logBuffer
		hooks := continuity.Hooks{
			SessionStart: func(*continuity.Session) { ev.add("start") },
			SessionEnd:   func(_ *continuity.Session, why error) { ev.add("end: " + why.Error()) },
		}
		const responseTimeout = 10 * time.Second
		srv, err := continuity.New(app, &continuity.Options{ResponseTimeout: responseTimeout, Hooks: hooks, Logger: newLogger(&logs)})
		require.NoError(t, err)
		l := serveInBubble(t, srv)

		conn := l.dial()
		defer conn.Close()
		began := time.Now()
		resp := roundTrip(t, conn, "/?hang=1")
		assert.Equal(t, responseTimeout, time.Since(began))
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		io.Copy(io.Discard, resp.Body)
		synctest.Wait()
		assert.EqualValues(t, 1, srv.Metrics().SessionsEnded["unresponsive"])
		assert.Zero(t, srv.Metrics().LiveSessions, "the broken session left the table")
		assert.Contains(t, logs.String(), "did not answer in time")
		assert.Equal(t, []string{"start", "cleanup", "end: " + continuity.EndUnresponsive.Error()}, ev.all())

		resp = roundTrip(t, conn, "/", resp.Cookies()...)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "fresh", string(body))
		assert.NotEmpty(t, resp.Cookies(), "a fresh session, with a fresh ID")

		close(release)
		within(t, time.Minute, returned)
		synctest.Wait()
		assert.Equal(t, []string{"start", "cleanup", "end: " + continuity.EndUnresponsive.Error(), "start"}, ev.all(),
			"the app returning later ends nothing twice")
	})
}

// The write deadline a session's response sets must not outlive it: on a
// kept-alive connection, whatever is served next (here a 405 the server
// answers itself) must not find an expired deadline. (net/http clears the
// connection's write deadline after each response, once its final flush,
// which the last deadline still bounds, is done.)
func TestWriteDeadlineDoesNotOutliveTheResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := continuity.New(counter, &continuity.Options{WriteTimeout: time.Second, Logger: quietLogger()})
		require.NoError(t, err)
		l := serveInBubble(t, srv)
		conn := l.dial()
		defer conn.Close()
		br := bufio.NewReader(conn)
		send := func(method string) *http.Response {
			req, err := http.NewRequest(method, "http://pipe/", nil)
			require.NoError(t, err)
			go req.Write(conn)
			resp, err := http.ReadResponse(br, req)
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			return resp
		}
		assert.Equal(t, http.StatusOK, send(http.MethodGet).StatusCode)
		time.Sleep(time.Minute) // the connection idles past the write timeout
		assert.Equal(t, http.StatusMethodNotAllowed, send(http.MethodPut).StatusCode)
	})
}
