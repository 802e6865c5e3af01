package continuity_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
)

// events records hook calls in order.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, s)
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

func (e *events) has(s string) bool {
	for _, x := range e.all() {
		if x == s {
			return true
		}
	}
	return false
}

func hooked(ev *events) continuity.Hooks {
	return continuity.Hooks{
		SessionStart: func(*continuity.Session) { ev.add("session start") },
		SessionEnd: func(_ *continuity.Session, why error) {
			ev.add("session end: " + why.Error())
		},
		RequestStart: func(r *continuity.Request) { ev.add("request start " + r.Path()) },
		RequestEnd:   func(r *continuity.Request) { ev.add("request end " + r.Path()) },
		BeforeCommit: func(r *continuity.Request) { r.Header().Set("X-Hooked", "yes") },
	}
}

func TestHooksRunInOrderWithReasons(t *testing.T) {
	ev := &events{}
	app := func(r *continuity.Request) {
		r.Session().Cleanup(func() { ev.add("cleanup") })
		r.Print("a")
		r.Next()
		r.Print("b")
	}
	hooks := hooked(ev)
	hooks.ServerStart = func() { ev.add("app start") }
	hooks.ServerStop = func() { ev.add("app stop") }
	srv, err := continuity.New(app, &continuity.Options{Hooks: hooks, Logger: quietLogger()})
	require.NoError(t, err)
	ts := plainServer(t, srv)
	c := browser(t)
	resp, err := c.Get(ts.URL + "/one")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "yes", resp.Header.Get("X-Hooked"), "BeforeCommit may set headers")
	get(t, c, ts.URL+"/two")
	require.Eventually(t, func() bool { return ev.has("session end: " + continuity.EndReturned.Error()) }, testTimeout, tick)
	require.NoError(t, srv.Shutdown(context.Background()))
	assert.Equal(t, []string{
		"app start",
		"session start",
		"request start /one", "request end /one",
		"request start /two", "request end /two",
		"cleanup",
		"session end: " + continuity.EndReturned.Error(),
		"app stop",
	}, ev.all())
}

func TestCleanupAndEndHookRunOnEveryKindOfEnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   continuity.Options
		app    func(*continuity.Request)
		drive  func(t *testing.T, srv *bubbleServer)
		reason error
	}{
		{
			name:   "panic",
			app:    func(r *continuity.Request) { panic("boom") },
			reason: continuity.EndPanic,
		},
		{
			name:   "idle",
			opts:   continuity.Options{IdleTimeout: time.Minute},
			app:    counter,
			drive:  func(*testing.T, *bubbleServer) { time.Sleep(2 * time.Minute) },
			reason: continuity.EndIdle,
		},
		{
			name: "shutdown",
			app:  counter,
			drive: func(t *testing.T, srv *bubbleServer) {
				require.NoError(t, srv.Shutdown(context.Background()))
			},
			reason: continuity.EndShutdown,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ev := &events{}
				app := func(r *continuity.Request) {
					r.Session().Cleanup(func() { ev.add("cleanup") })
					tc.app(r)
				}
				opts := tc.opts
				opts.Hooks = hooked(ev)
				opts.Logger = quietLogger()
				srv := startInBubble(t, app, &opts)
				srv.get(t, srv.browser(t), "/")
				if tc.drive != nil {
					tc.drive(t, srv)
				}
				synctest.Wait()
				all := ev.all()
				require.NotEmpty(t, all)
				assert.Equal(t, []string{"cleanup", "session end: " + tc.reason.Error()}, all[len(all)-2:])
			})
		})
	}
}

func TestHookPanicsAreContained(t *testing.T) {
	logs := &logBuffer{}
	boom := func() { panic("hook exploded") }
	srv, ts := start(t, counter, &continuity.Options{
		Logger: newLogger(logs),
		Hooks: continuity.Hooks{
			ServerStart:  boom,
			ServerStop:   boom,
			SessionStart: func(*continuity.Session) { boom() },
			RequestStart: func(*continuity.Request) { boom() },
			RequestEnd:   func(*continuity.Request) { boom() },
			BeforeCommit: func(*continuity.Request) { boom() },
			SessionEnd:   func(*continuity.Session, error) { boom() },
		},
	})
	c := browser(t)
	for want := 1; want <= 3; want++ {
		code, body := get(t, c, ts.URL+"/")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, string(rune('0'+want)), body)
	}
	assert.Contains(t, logs.String(), "hook exploded")
	assert.Equal(t, 1, srv.Metrics().LiveSessions)
}

func TestDrainRefusesNewBrowsersWhileExistingSessionsFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		app := func(r *continuity.Request) {
			r.Print("step 1")
			r.Next()
			r.Print("step 2")
			r.Next()
			r.Print("done")
		}
		srv := startInBubble(t, app, &continuity.Options{Logger: quietLogger()})
		old := srv.browser(t)
		_, body := srv.get(t, old, "/")
		require.Equal(t, "step 1", body)

		drained := make(chan error, 1)
		go func() { drained <- srv.Drain(context.Background()) }()
		synctest.Wait()
		require.True(t, srv.Draining())

		resp, err := srv.browser(t).Get(bubbleBase + "/")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a new browser is refused")
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		assert.Empty(t, resp.Header.Values("Set-Cookie"))

		_, body = srv.get(t, old, "/")
		assert.Equal(t, "step 2", body, "the existing session carries on")
		time.Sleep(5 * time.Minute) // a while, well within the idle timeout
		select {
		case err := <-drained:
			t.Fatalf("Drain returned (%v) while a session was live", err)
		default:
		}
		_, body = srv.get(t, old, "/")
		assert.Equal(t, "done", body)
		require.NoError(t, <-drained, "Drain returns once every session has ended")

		srv.Resume()
		_, body = srv.get(t, srv.browser(t), "/")
		assert.Equal(t, "step 1", body)
	})
}

func TestDrainRedirect(t *testing.T) {
	srv, ts := start(t, counter, &continuity.Options{DrainRedirect: "https://other.example/", Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.NoError(t, srv.Drain(ctx), "no sessions: drained at once")
	resp, err := browser(t).Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	assert.Equal(t, "https://other.example/", resp.Header.Get("Location"))
}

func TestStopAndStartListeningKeepsSessions(t *testing.T) {
	srv, err := continuity.New(counter, &continuity.Options{Logger: quietLogger()})
	require.NoError(t, err)
	ln, err := netListen()
	require.NoError(t, err)
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c := browser(t)
	c.Transport = &http.Transport{DisableKeepAlives: true}
	_, body := get(t, c, "http://"+addr+"/")
	require.Equal(t, "1", body)

	srv.StopListening()
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the port refuses connections")

	require.NoError(t, srv.StartListening())
	_, body = get(t, c, "http://"+addr+"/")
	assert.Equal(t, "2", body, "the session survived")

	require.NoError(t, srv.Shutdown(context.Background()))
	assert.ErrorIs(t, <-served, http.ErrServerClosed)
}

func TestMetricsAndAdminListing(t *testing.T) {
	const id = "raw-id-never-shown-anywhere-000000001"
	srv, ts := start(t, counter, &continuity.Options{
		Logger: quietLogger(),
		NewID:  func() (string, error) { return id, nil },
	})
	c := browser(t)
	get(t, c, ts.URL+"/a")
	get(t, c, ts.URL+"/b")
	req, _ := http.NewRequest("PUT", ts.URL+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	metrics := plainServer(t, srv.MetricsHandler())
	var m continuity.Metrics
	_, body := get(t, http.DefaultClient, metrics.URL)
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	assert.Equal(t, 1, m.LiveSessions)
	assert.EqualValues(t, 1, m.SessionsCreated)
	assert.EqualValues(t, 2, m.Requests["served"])
	assert.EqualValues(t, 1, m.Requests["method_not_allowed"])
	assert.Positive(t, m.HeapBytes)

	admin := plainServer(t, srv.AdminHandler())
	_, body = get(t, http.DefaultClient, admin.URL)
	assert.NotContains(t, body, id)
	var listing map[string][]continuity.SessionInfo
	require.NoError(t, json.Unmarshal([]byte(body), &listing))
	require.Len(t, listing, 1, "the listing, and nothing MetricsHandler serves")
	require.Len(t, listing["sessions"], 1)
	s := listing["sessions"][0]
	assert.Equal(t, "/b", s.Path)
	assert.Len(t, s.ID, 16)
	assert.GreaterOrEqual(t, s.AgeSeconds, 0.0)
	assert.Zero(t, s.Queued)
}

func TestNewSessionsPerIPLimit(t *testing.T) {
	srv, ts := start(t, counter, &continuity.Options{NewSessionsPerIP: 3, Logger: quietLogger()})
	for i := range 3 {
		code, _ := get(t, browser(t), ts.URL+"/")
		assert.Equal(t, http.StatusOK, code, i)
	}
	resp, err := browser(t).Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.Equal(t, 3, srv.Metrics().LiveSessions)
}

func TestSlowBodyTimesOutWithoutHoldingASession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const readTimeout = time.Minute
		srv := startInBubble(t, counter, &continuity.Options{
			Logger:  quietLogger(),
			Adapter: adapter.Config{ReadTimeout: readTimeout},
		})
		conn, err := srv.ln.Dial(context.Background(), "", "")
		require.NoError(t, err)
		defer conn.Close()
		began := time.Now()
		_, err = conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\na=1"))
		require.NoError(t, err)

		// A well-behaved client is served meanwhile.
		_, body := srv.get(t, srv.browser(t), "/")
		assert.Equal(t, "1", body)

		answer, _ := io.ReadAll(conn) // the server answers 400 or just closes
		assert.Equal(t, readTimeout, time.Since(began), "cut at the read timeout")
		assert.NotContains(t, string(answer), "200 OK")
		assert.Equal(t, 1, srv.Metrics().LiveSessions, "the slow body never started a session")
	})
}
