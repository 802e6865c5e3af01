package continuity_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// endings records how sessions ended: the app defers a report, which runs
// whether Next ends the goroutine or the app returns.
type endings struct {
	mu  sync.Mutex
	why []error
}

func (e *endings) app(r *continuity.Request) {
	defer func() {
		e.mu.Lock()
		e.why = append(e.why, context.Cause(r.Context()))
		e.mu.Unlock()
	}()
	counter(r)
}

func (e *endings) reasons() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.why...)
}

func TestIdleSessionsAreReapedAndDeferredCallsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		var ends endings
		srv := startInBubble(t, ends.app, &continuity.Options{IdleTimeout: idle, Logger: quietLogger()})
		c := srv.browser(t)
		srv.get(t, c, "/")
		srv.get(t, c, "/")

		time.Sleep(idle - time.Millisecond)
		synctest.Wait()
		assert.Empty(t, ends.reasons(), "never reaped before the idle timeout")
		assert.Equal(t, 1, srv.Metrics().LiveSessions)

		time.Sleep(idle) // within one more timeout, whatever the reaper's tick
		synctest.Wait()
		require.Len(t, ends.reasons(), 1)
		assert.ErrorIs(t, ends.reasons()[0], continuity.EndIdle)
		assert.Zero(t, srv.Metrics().LiveSessions)
		_, body := srv.get(t, c, "/")
		assert.Equal(t, "1", body, "the browser's next request starts a new session")
	})
}

func TestBusySessionIsNotReapedMidRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		var ends endings
		inner := func(r *continuity.Request) {
			defer func() {
				ends.mu.Lock()
				ends.why = append(ends.why, context.Cause(r.Context()))
				ends.mu.Unlock()
			}()
			time.Sleep(4 * idle) // busy for many reaper ticks
			r.Print("done")
			r.Next()
		}
		srv := startInBubble(t, inner, &continuity.Options{IdleTimeout: idle, Logger: quietLogger()})
		code, body := srv.get(t, srv.browser(t), "/")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "done", body)
		synctest.Wait()
		assert.Empty(t, ends.reasons(), "not reaped while busy")

		time.Sleep(2 * idle)
		synctest.Wait()
		require.Len(t, ends.reasons(), 1)
		assert.ErrorIs(t, ends.reasons()[0], continuity.EndIdle, "reaped only after the request finished")
		assert.Zero(t, srv.Metrics().LiveSessions)
	})
}

func TestMaxLifetimeEndsActiveSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const life = time.Minute
		var ends endings
		srv := startInBubble(t, ends.app, &continuity.Options{MaxLifetime: life, Logger: quietLogger()})
		c := srv.browser(t)
		began := time.Now()
		for len(ends.reasons()) == 0 && time.Since(began) < 2*life {
			srv.get(t, c, "/") // busy: never idle for long
			time.Sleep(5 * time.Second)
			synctest.Wait()
		}
		require.Len(t, ends.reasons(), 1)
		assert.ErrorIs(t, ends.reasons()[0], continuity.EndLifetime)
		assert.GreaterOrEqual(t, time.Since(began), life, "not before its lifetime")
	})
}

func TestEvictionAtTheCapPrefersLeastRecentlyUsedIdle(t *testing.T) {
	var ends endings
	srv, ts := start(t, ends.app, &continuity.Options{MaxSessions: 2, Logger: quietLogger()})
	a, b, c := browser(t), browser(t), browser(t)
	get(t, a, ts.URL+"/")
	get(t, a, ts.URL+"/") // a came back: established
	get(t, b, ts.URL+"/")
	get(t, b, ts.URL+"/")
	get(t, a, ts.URL+"/") // b is now the least recently used

	_, body := get(t, c, ts.URL+"/")
	assert.Equal(t, "1", body)
	require.Eventually(t, func() bool { return len(ends.reasons()) == 1 }, testTimeout, tick)
	assert.ErrorIs(t, ends.reasons()[0], continuity.EndEvicted)
	assert.Equal(t, 2, srv.Metrics().LiveSessions)
	assert.EqualValues(t, 1, srv.Metrics().SessionsEvicted)

	_, body = get(t, a, ts.URL+"/")
	assert.Equal(t, "4", body, "a kept its session")
	_, body = get(t, b, ts.URL+"/")
	assert.Equal(t, "1", body, "b was evicted and starts again")
}

func TestFloodOfNewBrowsersEvictsItselfNotEstablishedUsers(t *testing.T) {
	srv, ts := start(t, counter, &continuity.Options{MaxSessions: 10, Logger: quietLogger()})
	regulars := make([]*http.Client, 5)
	for i := range regulars {
		regulars[i] = browser(t)
		get(t, regulars[i], ts.URL+"/")
		get(t, regulars[i], ts.URL+"/")
	}
	for range 200 { // cookie-less clients, one request each
		code, _ := get(t, http.DefaultClient, ts.URL+"/")
		require.Equal(t, http.StatusOK, code)
	}
	assert.LessOrEqual(t, srv.Metrics().LiveSessions, 10)
	for _, c := range regulars {
		_, body := get(t, c, ts.URL+"/")
		assert.Equal(t, "3", body, "established sessions survive the flood")
	}
}

func TestAllBusyAtTheCapGets503WithRetryAfter(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	app := func(r *continuity.Request) {
		entered <- struct{}{}
		<-release
		r.Print("ok")
		r.Next()
	}
	srv, ts := start(t, app, &continuity.Options{MaxSessions: 2, Logger: quietLogger()})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { get(t, browser(t), ts.URL+"/") })
		<-entered
	}
	resp, err := http.Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.EqualValues(t, 1, srv.Metrics().SessionsRefused)
	close(release)
	wg.Wait()
}

func TestRequestsQueuedBehindAReturningAppAreServedByANewSession(t *testing.T) {
	release := make(chan struct{})
	holding := make(chan struct{})
	app := func(r *continuity.Request) {
		r.Print("warm")
		r.Next()
		close(holding)
		<-release
		r.Print(r.Param("n"))
		// Returning ends the session with two requests still queued.
	}
	srv, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")
	got := make(chan string, 3)
	var wg sync.WaitGroup
	fetch := func(n string) {
		code, b := get(t, c, ts.URL+"/?n="+n)
		assert.Equal(t, http.StatusOK, code)
		got <- b
	}
	wg.Go(func() { fetch("a") })
	<-holding
	wg.Go(func() { fetch("b") })
	wg.Go(func() { fetch("c") })
	require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == 3 }, testTimeout, tick)
	close(release)
	wg.Wait()
	close(got)
	var all []string
	for b := range got {
		all = append(all, b)
	}
	assert.ElementsMatch(t, []string{"a", "warm", "warm"}, all,
		"requests queued behind a finished session are each answered by a new session")
}

func TestShutdownEndsEverySessionAndIsIdempotent(t *testing.T) {
	var ends endings
	srv, err := continuity.New(ends.app, &continuity.Options{Logger: quietLogger()})
	require.NoError(t, err)
	ts := plainServer(t, srv)
	for range 20 {
		get(t, browser(t), ts.URL+"/")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.Len(t, ends.reasons(), 20, "every session's deferred calls ran before Shutdown returned")
	for _, why := range ends.reasons() {
		assert.ErrorIs(t, why, continuity.EndShutdown)
	}
	require.NoError(t, srv.Shutdown(ctx))
	require.NoError(t, srv.Close())

	code, _ := get(t, browser(t), ts.URL+"/")
	assert.Equal(t, http.StatusServiceUnavailable, code)
}

func TestShutdownDeadlineReportsStuckSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := make(chan struct{})
		app := func(r *continuity.Request) { <-stuck } // ignores its context
		srv := startInBubble(t, app, &continuity.Options{Logger: quietLogger(), ResponseTimeout: time.Second})
		code, _ := srv.get(t, srv.browser(t), "/")
		assert.Equal(t, http.StatusServiceUnavailable, code)

		const deadline = 10 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		began := time.Now()
		err := srv.Shutdown(ctx)
		assert.Equal(t, deadline, time.Since(began), "Shutdown waits exactly until its deadline")
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.DeadlineExceeded))
		assert.Contains(t, err.Error(), "1 session goroutines still running")
		close(stuck) // the cleanup's Shutdown then finds it gone
	})
}

func TestListenAndServeAndShutdown(t *testing.T) {
	srv, err := continuity.New(counter, &continuity.Options{Logger: quietLogger()})
	require.NoError(t, err)
	ln, err := netListen()
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c := browser(t)
	_, body := get(t, c, "http://"+ln.Addr().String()+"/")
	assert.Equal(t, "1", body)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.ErrorIs(t, <-served, http.ErrServerClosed)
}
