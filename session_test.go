package continuity_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

func TestCounterKeepsLocalsPerBrowser(t *testing.T) {
	_, ts := start(t, counter, &continuity.Options{Logger: quietLogger()})
	alice, bob := browser(t), browser(t)
	for want := 1; want <= 3; want++ {
		code, body := get(t, alice, ts.URL+"/")
		require.Equal(t, http.StatusOK, code)
		assert.Equal(t, strconv.Itoa(want), body)
	}
	_, body := get(t, bob, ts.URL+"/")
	assert.Equal(t, "1", body, "a new browser starts its own session")
	_, body = get(t, alice, ts.URL+"/")
	assert.Equal(t, "4", body)
}

func TestNextChainsAndReadsParams(t *testing.T) {
	app := func(r *continuity.Request) {
		r.Print(`<form><input name="a"></form>`)
		a, _ := strconv.Atoi(r.Next().Param("a"))
		r.Print(`<form><input name="b"></form>`)
		b, _ := strconv.Atoi(r.Next().Param("b"))
		r.Printf("%d+%d=%d %v", a, b, a+b, r.Params("b"))
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")
	get(t, c, ts.URL+"/?a=2")
	resp, err := c.PostForm(ts.URL+"/?b=9", map[string][]string{"b": {"3"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "2+3=5 [3 9]", string(body), "POST values come before query values")
}

func TestResponseHeadersStatusAndCookies(t *testing.T) {
	app := func(r *continuity.Request) {
		r.Header().Set("X-Step", "1")
		r.SetCookie(&http.Cookie{Name: "theme", Value: "dark"})
		r.SetStatus(http.StatusCreated)
		r.Print("made")
		r.Next()
		c, err := r.Cookie("theme")
		if err == nil {
			r.Print(c.Value)
		}
		r.Next()
		r.Redirect("/elsewhere", http.StatusSeeOther)
		r.Next()
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	resp, err := c.Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("X-Step"))
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "Cookie", resp.Header.Get("Vary"))

	_, body := get(t, c, ts.URL+"/")
	assert.Equal(t, "dark", body)

	resp, err = c.Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/elsewhere", resp.Header.Get("Location"))
	assert.Empty(t, resp.Header.Get("X-Step"), "headers do not leak into the next response")
}

func TestNoImplicitFirstNext(t *testing.T) {
	app := func(r *continuity.Request) {
		_, err := r.Write([]byte("too early"))
		early := errors.Is(err, continuity.ErrNoRequest)
		r.Next()
		r.Printf("early write refused: %v", early)
		r.Next()
	}
	_, ts := start(t, app, &continuity.Options{NoImplicitFirstNext: true, Logger: quietLogger()})
	_, body := get(t, browser(t), ts.URL+"/")
	assert.Equal(t, "early write refused: true", body)
}

func TestAppReturnEndsSessionAndNextRequestStartsAnew(t *testing.T) {
	var runs atomic.Int32
	app := func(r *continuity.Request) {
		n := runs.Add(1)
		r.Printf("run %d step 1", n)
		r.Next()
		r.Printf("run %d step 2", n)
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	for _, want := range []string{"run 1 step 1", "run 1 step 2", "run 2 step 1", "run 2 step 2"} {
		_, body := get(t, c, ts.URL+"/")
		assert.Equal(t, want, body)
	}
}

func TestConcurrentRequestsToOneSessionAreServedInTurnNeverLostOrTwice(t *testing.T) {
	const n = 16
	_, ts := start(t, counter, &continuity.Options{QueueDepth: n, Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/") // establish the session: 1

	var wg sync.WaitGroup
	bodies := make(chan string, n)
	for range n {
		wg.Go(func() {
			code, body := get(t, c, ts.URL+"/")
			assert.Equal(t, http.StatusOK, code)
			bodies <- body
		})
	}
	wg.Wait()
	close(bodies)
	seen := map[string]bool{}
	for b := range bodies {
		assert.False(t, seen[b], "step %s answered twice", b)
		seen[b] = true
	}
	for i := 2; i <= n+1; i++ {
		assert.True(t, seen[strconv.Itoa(i)], "step %d lost", i)
	}
}

func TestQueueFullGets503(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	app := func(r *continuity.Request) {
		for {
			if r.Param("block") != "" {
				entered <- struct{}{}
				<-release
			}
			r.Print("ok")
			r.Next()
		}
	}
	srv, ts := start(t, app, &continuity.Options{QueueDepth: 1, Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")

	var wg sync.WaitGroup
	wg.Go(func() { get(t, c, ts.URL+"/?block=1") })
	<-entered                               // the session is busy
	wg.Go(func() { get(t, c, ts.URL+"/") }) // fills the queue of 1
	require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 2 }, testTimeout, tick)
	resp, err := c.Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	close(release)
	wg.Wait()
}

func TestClientDisconnectWhileQueuedLeaksNothingAndSessionGoesOn(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	app := func(r *continuity.Request) {
		for i := 1; ; i++ {
			if r.Param("block") != "" {
				entered <- struct{}{}
				<-release
			}
			r.Printf("%d", i)
			r.Next()
		}
	}
	srv, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/") // 1

	done := make(chan struct{})
	go func() {
		defer close(done)
		get(t, c, ts.URL+"/?block=1") // 2, held in the app
	}()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		gone <- err
	}()
	require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 2 }, 5*time.Second, time.Millisecond, "second request queued")
	cancel()
	require.Error(t, <-gone)
	require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 1 }, 5*time.Second, time.Millisecond, "the handler left the queue")

	close(release)
	<-done
	_, body := get(t, c, ts.URL+"/")
	assert.Equal(t, "3", body, "the abandoned request was never delivered to the app")
}

func TestClientDisconnectWhileBeingAnsweredDetachesWrites(t *testing.T) {
	writeErr := make(chan error, 1)
	entered := make(chan struct{})
	app := func(r *continuity.Request) {
		close(entered)
		<-r.RequestContext().Done() // wait until the browser gave up
		_, err := r.Write([]byte("late"))
		writeErr <- err
		r.Next()
		r.Print("still here")
		r.Next()
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/", nil)
	go func() { <-entered; cancel() }()
	_, err := c.Do(req)
	require.Error(t, err)
	assert.ErrorIs(t, <-writeErr, continuity.ErrClientGone)
	// The cookie was set before the hand-off, but the response never
	// arrived, so this browser has no cookie and starts a new session.
	_, body := get(t, c, ts.URL+"/")
	assert.NotEqual(t, "still here", body)
}

func TestPanicAnswers500LogsStackAndSparesOthers(t *testing.T) {
	logs := &logBuffer{}
	app := func(r *continuity.Request) {
		for i := 1; ; i++ {
			if r.Param("boom") != "" {
				panic("kaboom")
			}
			r.Printf("%d", i)
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: newLogger(logs)})
	victim, bystander := browser(t), browser(t)
	get(t, victim, ts.URL+"/")
	get(t, bystander, ts.URL+"/")

	code, body := get(t, victim, ts.URL+"/?boom=1")
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.NotContains(t, body, "kaboom", "no panic details to the client")
	assert.Contains(t, logs.String(), "kaboom")
	assert.Contains(t, logs.String(), "session_test.go", "the stack is logged")

	_, body = get(t, bystander, ts.URL+"/")
	assert.Equal(t, "2", body, "other sessions are unaffected")
	_, body = get(t, victim, ts.URL+"/")
	assert.Equal(t, "1", body, "the panicked session ended; a new one starts")
}

func TestPanicErrAbortHandlerAbortsConnection(t *testing.T) {
	app := func(r *continuity.Request) { panic(http.ErrAbortHandler) }
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	_, err := browser(t).Get(ts.URL + "/")
	assert.Error(t, err, "the connection is aborted, not answered")
}

func TestResponseTimeoutWhenAppNeverAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = time.Minute
		stuck := make(chan struct{})
		app := func(r *continuity.Request) {
			select {
			case <-stuck:
			case <-r.Context().Done():
			}
		}
		srv := startInBubble(t, app, &continuity.Options{ResponseTimeout: timeout, Logger: quietLogger()})
		began := time.Now()
		code, _ := srv.get(t, srv.browser(t), "/")
		assert.Equal(t, http.StatusServiceUnavailable, code)
		// Options.ResponseTimeout: the bound may run up to an eighth late.
		assert.GreaterOrEqual(t, time.Since(began), timeout, "never early")
		assert.LessOrEqual(t, time.Since(began), timeout+timeout/8)
		close(stuck)
	})
}

func TestQueueTimeoutGets503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const queueTimeout = 30 * time.Second
		app := func(r *continuity.Request) {
			for {
				if r.Param("slow") != "" {
					time.Sleep(time.Minute)
				}
				r.Print("ok")
				r.Next()
			}
		}
		srv := startInBubble(t, app, &continuity.Options{QueueTimeout: queueTimeout, Logger: quietLogger()})
		c := srv.browser(t)
		srv.get(t, c, "/")
		slow := make(chan int, 1)
		go func() {
			code, _ := srv.get(t, c, "/?slow=1")
			slow <- code
		}()
		synctest.Wait() // the session is busy with the slow request
		began := time.Now()
		code, _ := srv.get(t, c, "/")
		assert.Equal(t, http.StatusServiceUnavailable, code)
		assert.Equal(t, queueTimeout, time.Since(began), "a queued request waits exactly the queue timeout")
		assert.Equal(t, http.StatusOK, <-slow)
		assert.EqualValues(t, 1, srv.Metrics().Requests["queue_timeout"])
	})
}

func TestStreamingOutlivesResponseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = time.Minute
		app := func(r *continuity.Request) {
			r.Print("first ")
			if !assert.NoError(t, r.Flush()) {
				return
			}
			time.Sleep(3 * timeout)
			r.Print("second")
			r.Next()
		}
		srv := startInBubble(t, app, &continuity.Options{ResponseTimeout: timeout, Logger: quietLogger()})
		resp, err := srv.browser(t).Get(bubbleBase + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		buf := make([]byte, 6)
		_, err = io.ReadFull(resp.Body, buf)
		require.NoError(t, err)
		assert.Equal(t, "first ", string(buf), "flushed output arrives before the response ends")
		rest, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "second", string(rest))
	})
}

func TestManySessionsManyStepsNoCrossTalk(t *testing.T) {
	sessions, steps := 500, 20
	if testing.Short() {
		sessions = 50
	}
	app := func(r *continuity.Request) {
		me := r.Param("me")
		for i := 1; ; i++ {
			if got := r.Param("me"); got != me {
				r.Printf("cross-talk: %s saw %s", me, got)
			} else {
				r.Printf("%s:%d", me, i)
			}
			r.Next()
		}
	}
	srv, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Go(func() {
			c := browser(t)
			c.Transport = &http.Transport{MaxIdleConnsPerHost: 1}
			defer c.Transport.(*http.Transport).CloseIdleConnections()
			me := fmt.Sprintf("u%d", s)
			for i := 1; i <= steps; i++ {
				_, body := get(t, c, ts.URL+"/?me="+me)
				if !assert.Equal(t, fmt.Sprintf("%s:%d", me, i), body) {
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, sessions, srv.Metrics().LiveSessions)
}

func TestHeadNeverCreatesOrAdvancesASession(t *testing.T) {
	srv, ts := start(t, counter, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	resp, err := c.Head(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Zero(t, srv.Metrics().SessionsCreated)

	get(t, c, ts.URL+"/")
	resp, err = c.Head(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	_, body := get(t, c, ts.URL+"/")
	assert.Equal(t, "2", body)
}

func TestCallbacksRunBoundClosures(t *testing.T) {
	app := func(r *continuity.Request) {
		n := 0
		for {
			r.Printf(`<span id="n">%d</span> %s %s`, n, r.Link("+1", func() { n++ }), r.Link("-1", func() { n-- }))
			r.Next()
			r.RunCallbacks()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	_, page := get(t, c, ts.URL+"/")
	follow := func(label string) string {
		i := strings.Index(page, ">"+label+"<")
		require.Positive(t, i)
		j := strings.LastIndex(page[:i], `href="`)
		href := page[j+len(`href="`) : strings.Index(page[j+6:], `"`)+j+6]
		_, page = get(t, c, ts.URL+"/"+href)
		return page
	}
	assert.Contains(t, follow("+1"), `<span id="n">1</span>`)
	assert.Contains(t, follow("+1"), `<span id="n">2</span>`)
	assert.Contains(t, follow("-1"), `<span id="n">1</span>`)
	_, page = get(t, c, ts.URL+"/?_cb=forged")
	assert.Contains(t, page, `<span id="n">1</span>`, "an unknown token runs nothing")
}
