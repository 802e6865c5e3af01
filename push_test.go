package continuity_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
)

// pollApp long-polls topic: GET ?since=N answers one line "V:VALUE" per
// event after N, "interrupted", "behind NEXT", or nothing after wait. When
// the wait ends for another reason (the client went away, the session
// ended) it sends the context's cause on ended, if set.
func pollApp(topic *continuity.Topic[string], wait time.Duration, ended chan<- error) func(*continuity.Request) {
	return func(r *continuity.Request) {
		for {
			since, _ := strconv.ParseUint(r.Param("since"), 10, 64)
			evs, next, err := topic.Wait(r.RequestContext(), since, wait)
			r.Header().Set("Content-Type", "text/plain; charset=utf-8")
			switch {
			case errors.Is(err, continuity.ErrInterrupted):
				r.Print("interrupted\n")
			case errors.Is(err, continuity.ErrBehind):
				r.Printf("behind %d\n", next)
			case err != nil && ended != nil:
				ended <- context.Cause(r.RequestContext())
			}
			for _, e := range evs {
				r.Printf("%d:%s\n", e.Version, e.Value)
			}
			r.Next()
		}
	}
}

// poll GETs url with c and returns the answer's lines.
func poll(c *http.Client, url string) ([]string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	return strings.Fields(string(body)), nil
}

func waitForWaiters(t *testing.T, topic *continuity.Topic[string], n int) {
	t.Helper()
	require.Eventually(t, func() bool { return topic.Waiters() == n }, testTimeout, tick,
		"want %d waiters, have %d", n, topic.Waiters())
}

func TestLongPollFanOutToManyReceivers(t *testing.T) {
	topic := continuity.NewTopic[string](0)
	_, ts := start(t, pollApp(topic, 10*time.Second, nil), &continuity.Options{Logger: quietLogger()})

	const receivers = 100
	want := []string{"1:one", "2:two", "3:three"}
	got := make([][]string, receivers)
	done := make(chan time.Time, receivers)
	// Keep-alive connections for all, as browsers keep theirs.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * receivers
	t.Cleanup(tr.CloseIdleConnections)
	var wg sync.WaitGroup
	for i := range receivers {
		c := browser(t) // each receiver is its own browser, its own session
		c.Transport = tr
		wg.Go(func() {
			var since uint64
			for len(got[i]) < len(want) {
				lines, err := poll(c, ts.URL+"/receive?since="+strconv.FormatUint(since, 10))
				if err != nil {
					t.Errorf("receiver %d: %v", i, err)
					return
				}
				for _, l := range lines {
					got[i] = append(got[i], l)
					v, _, _ := strings.Cut(l, ":")
					since, _ = strconv.ParseUint(v, 10, 64)
				}
			}
			done <- time.Now()
		})
	}
	waitForWaiters(t, topic, receivers)

	start := time.Now()
	topic.Publish("one")
	topic.Publish("two")
	topic.Publish("three")
	wg.Wait()
	close(done)
	var last time.Time
	for at := range done {
		if at.After(last) {
			last = at
		}
	}
	for i := range receivers {
		assert.Equal(t, want, got[i], "receiver %d", i)
	}
	assert.Less(t, last.Sub(start), time.Second, "every receiver has every message within a second")
	t.Logf("%d receivers had 3 messages %v after the first was published", receivers, last.Sub(start))
}

func TestLongPollReconnectWithSinceMissesNothing(t *testing.T) {
	topic := continuity.NewTopic[string](4)
	_, ts := start(t, pollApp(topic, 5*time.Second, nil), &continuity.Options{Logger: quietLogger()})
	c := browser(t)

	topic.Publish("a")
	lines, err := poll(c, ts.URL+"/?since=0")
	require.NoError(t, err)
	assert.Equal(t, []string{"1:a"}, lines)

	// Published while the receiver was away (between two polls).
	topic.Publish("b")
	topic.Publish("c")
	topic.Publish("d")
	lines, err = poll(c, ts.URL+"/?since=1")
	require.NoError(t, err)
	assert.Equal(t, []string{"2:b", "3:c", "4:d"}, lines)

	// Away so long that the ring (4 events) moved past it: it is told so,
	// then reads what is left.
	for _, v := range []string{"e", "f", "g", "h", "i"} {
		topic.Publish(v)
	}
	lines, err = poll(c, ts.URL+"/?since=4")
	require.NoError(t, err)
	assert.Equal(t, []string{"behind", "5"}, lines)
	lines, err = poll(c, ts.URL+"/?since=5")
	require.NoError(t, err)
	assert.Equal(t, []string{"6:f", "7:g", "8:h", "9:i"}, lines)
}

func TestInterruptWakesEveryWaiter(t *testing.T) {
	topic := continuity.NewTopic[string](0)
	_, ts := start(t, pollApp(topic, time.Minute, nil), &continuity.Options{Logger: quietLogger()})

	const receivers = 20
	answers := make(chan []string, receivers)
	for range receivers {
		c := browser(t)
		go func() {
			lines, err := poll(c, ts.URL+"/?since=0")
			if err != nil {
				lines = []string{err.Error()}
			}
			answers <- lines
		}()
	}
	waitForWaiters(t, topic, receivers)
	topic.Interrupt()
	deadline := time.After(time.Second)
	for range receivers {
		select {
		case lines := <-answers:
			assert.Equal(t, []string{"interrupted"}, lines)
		case <-deadline:
			t.Fatal("an interrupt did not wake every waiter within a second")
		}
	}
	assert.Equal(t, 0, topic.Waiters())
}

func TestClientThatDisconnectsFreesItsWaiter(t *testing.T) {
	topic := continuity.NewTopic[string](0)
	ended := make(chan error, 1)
	_, ts := start(t, pollApp(topic, time.Hour, ended), &continuity.Options{Logger: quietLogger()})
	c := browser(t)

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/?since=0", nil)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitForWaiters(t, topic, 1)
	cancel() // the browser goes away mid-wait
	require.ErrorIs(t, <-errc, context.Canceled)
	select {
	case cause := <-ended:
		assert.ErrorIs(t, cause, context.Canceled)
	case <-time.After(time.Second):
		t.Fatal("the waiter was not freed when its client went away")
	}
	assert.Equal(t, 0, topic.Waiters())

	// The session carries on with the browser's next request.
	topic.Publish("after")
	lines, err := poll(c, ts.URL+"/?since=0")
	require.NoError(t, err)
	assert.Equal(t, []string{"1:after"}, lines)
}

func TestShutdownFreesWaiters(t *testing.T) {
	topic := continuity.NewTopic[string](0)
	ended := make(chan error, 1)
	srv, ts := start(t, pollApp(topic, time.Hour, ended), &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	go poll(c, ts.URL+"/?since=0")
	waitForWaiters(t, topic, 1)

	begun := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.Less(t, time.Since(begun), 4*time.Second, "a waiting long poll (1h) does not hold up shutdown")
	assert.ErrorIs(t, <-ended, continuity.EndShutdown, "RequestContext's cause is the session's end")
	assert.Equal(t, 0, topic.Waiters())
}

// unwrapOnly is middleware's ResponseWriter that hides Flush and exposes
// the writer it wraps only through Unwrap, as many middlewares do.
type unwrapOnly struct{ w http.ResponseWriter }

func (u unwrapOnly) Header() http.Header         { return u.w.Header() }
func (u unwrapOnly) Write(p []byte) (int, error) { return u.w.Write(p) }
func (u unwrapOnly) WriteHeader(code int)        { u.w.WriteHeader(code) }
func (u unwrapOnly) Unwrap() http.ResponseWriter { return u.w }
func wrapped(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(unwrapOnly{w}, r) })
}

// serveWith serves srv through wrap (nil: directly) on a test server that
// is shut down with the test.
func serveWith(t *testing.T, srv *continuity.Server, wrap func(http.Handler) http.Handler) *httptest.Server {
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		ts.Close()
	})
	return ts
}

func TestStreamArrivesInChunks(t *testing.T) {
	const chunks = 5
	tests := []struct {
		name  string
		wrap  func(http.Handler) http.Handler
		flush func(r *continuity.Request) error
	}{
		{"Flush", nil, (*continuity.Request).Flush},
		{"Flush behind middleware", wrapped, (*continuity.Request).Flush},
		{"ResponseController", wrapped, func(r *continuity.Request) error {
			return http.NewResponseController(r).Flush()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acks := make(chan struct{})
			app := func(r *continuity.Request) {
				r.Header().Set("Content-Type", "text/plain; charset=utf-8")
				if err := r.Stream(); err != nil {
					t.Error(err)
					return
				}
				for i := range chunks {
					r.Printf("chunk %d\n", i)
					if err := tt.flush(r); err != nil {
						t.Error(err)
						return
					}
					// The next chunk is written only once the client has
					// read this one: the response is still going on.
					select {
					case <-acks:
					case <-r.RequestContext().Done():
						return
					}
				}
				r.Print("end\n")
				r.Next()
			}
			srv, err := continuity.New(app, &continuity.Options{Logger: quietLogger()})
			require.NoError(t, err)
			ts := serveWith(t, srv, tt.wrap)

			resp, err := browser(t).Get(ts.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
			br := bufio.NewReader(resp.Body)
			for i := range chunks {
				line, err := br.ReadString('\n')
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("chunk %d\n", i), line)
				acks <- struct{}{}
			}
			rest, err := io.ReadAll(br)
			require.NoError(t, err)
			assert.Equal(t, "end\n", string(rest))
		})
	}
}

func TestStreamLearnsWhenTheClientHasGone(t *testing.T) {
	gone := make(chan error, 1)
	app := func(r *continuity.Request) {
		for {
			if r.Path() != "/stream" {
				r.Print("page")
				r.Next()
				continue
			}
			r.Header().Set("Content-Type", "text/plain")
			if !assert.NoError(t, r.Stream()) {
				return
			}
			tick := time.NewTicker(5 * time.Millisecond)
			for n := 0; ; n++ {
				select {
				case <-tick.C:
					r.Printf("tick %d\n", n)
					r.Flush()
					continue
				case <-r.RequestContext().Done(): // POE's close handler
				}
				break
			}
			tick.Stop()
			_, err := r.WriteString("after")
			gone <- err
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	resp, err := c.Get(ts.URL + "/stream")
	require.NoError(t, err)
	br := bufio.NewReader(resp.Body)
	for range 2 {
		_, err := br.ReadString('\n')
		require.NoError(t, err)
	}
	resp.Body.Close() // hang up mid-stream
	select {
	case err := <-gone:
		assert.ErrorIs(t, err, continuity.ErrClientGone, "writes fail once the client has gone")
	case <-time.After(time.Second):
		t.Fatal("the session did not learn that the client had gone")
	}
	code, body := get(t, c, ts.URL+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "page", body, "the session serves the browser's next request")
}

func TestSSE(t *testing.T) {
	stale := make(chan error, 1)
	app := func(r *continuity.Request) {
		var prev *continuity.SSE
		for {
			sse, err := r.SSE()
			if !assert.NoError(t, err) {
				return
			}
			if prev != nil {
				stale <- prev.Data("to the old stream")
			}
			prev = sse
			assert.NoError(t, sse.Retry(1500*time.Millisecond))
			assert.NoError(t, sse.Send(continuity.SSEEvent{ID: "7", Event: "greeting", Data: "hello\nworld"}))
			assert.NoError(t, sse.Comment("keep-alive"))
			assert.NoError(t, sse.Data("last event ID: "+sse.LastEventID()))
			r.Next() // ends the stream
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)

	resp, err := c.Get(ts.URL + "/events")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "retry: 1500\n\n"+
		"event: greeting\nid: 7\ndata: hello\ndata: world\n\n"+
		": keep-alive\n\n"+
		"data: last event ID: \n\n", string(body))

	// An EventSource reconnecting sends the last ID it saw.
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Last-Event-ID", "7")
	resp, err = c.Do(req)
	require.NoError(t, err)
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), "data: last event ID: 7\n\n")
	assert.ErrorIs(t, <-stale, continuity.ErrClientGone, "a stream ends with its request")
}

// TestStreamOutlivesWriteTimeout: an http.Server's WriteTimeout would cut
// a stream short; Stream lifts it for the stream. (Its ReadTimeout does
// not matter: net/http lifts the read deadline once the request is read.)
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	const events, every = 6, 100 * time.Millisecond
	gone := make(chan struct{}, 1)
	app := func(r *continuity.Request) {
		for {
			sse, err := r.SSE()
			if !assert.NoError(t, err) {
				return
			}
			for i := range events {
				select {
				case <-time.After(every):
				case <-r.RequestContext().Done():
					gone <- struct{}{}
					return
				}
				if sse.Data(strconv.Itoa(i)) != nil {
					gone <- struct{}{}
					return
				}
			}
			r.Next()
		}
	}
	srv, err := continuity.New(app, &continuity.Options{
		Logger:  quietLogger(),
		Adapter: adapter.Config{ReadTimeout: 2 * every, WriteTimeout: 2 * every},
	})
	require.NoError(t, err)
	l, err := netListen()
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		assert.ErrorIs(t, <-served, http.ErrServerClosed)
	})

	c := browser(t)
	t.Cleanup(c.CloseIdleConnections)
	resp, err := c.Get("http://" + l.Addr().String() + "/events")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n", string(body))
	select {
	case <-gone:
		t.Fatal("the stream was cut at the server's timeouts")
	default:
	}
}

// TestNextOrTimerNeverLosesARequest races a timer against each request:
// whichever wins the select, the request stays queued for Next.
func TestNextOrTimerNeverLosesARequest(t *testing.T) {
	var timerWon atomic.Int32
	app := func(r *continuity.Request) {
		for n := 1; ; n++ {
			r.Printf("%d", n)
			r.End()
			timer := time.NewTimer(time.Duration(rand.IntN(1000)) * time.Microsecond)
			select {
			case <-r.Arrived():
			case <-timer.C:
				timerWon.Add(1)
			case <-r.Context().Done():
				return
			}
			timer.Stop()
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	for want := 1; want <= 100; want++ {
		code, body := get(t, c, ts.URL+"/")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, strconv.Itoa(want), body)
	}
	t.Logf("the timer won %d of 100 races", timerWon.Load())
}

// TestSessionWaitsForRequestOrSignal: between requests, a session listens
// to another session's messages and to its own browser, whichever comes
// first.
func TestSessionWaitsForRequestOrSignal(t *testing.T) {
	room := continuity.NewTopic[string](0)
	heardOne := make(chan struct{}, 10)
	tryNext := make(chan bool, 1)
	app := func(r *continuity.Request) {
		if r.Path() == "/say" {
			for {
				room.Publish(r.Param("m"))
				r.Print("said")
				r.Next()
			}
		}
		seen := room.Version()
		var heard []string
		r.Print("listening")
		r.End()
		_, err := r.Write([]byte("x"))
		assert.ErrorIs(t, err, continuity.ErrNoRequest)
		tryNext <- r.TryNext() // nobody is asking yet
		for {
			select {
			case <-r.Arrived():
				if !r.TryNext() {
					continue
				}
				r.Printf("heard %s", strings.Join(heard, ","))
				r.End()
			case <-room.Changed(seen):
				evs, next, err := room.Since(seen)
				assert.NoError(t, err)
				seen = next
				for _, e := range evs {
					heard = append(heard, e.Value)
					heardOne <- struct{}{}
				}
			case <-r.Context().Done():
				return
			}
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	alice, bob := browser(t), browser(t)

	_, body := get(t, alice, ts.URL+"/")
	assert.Equal(t, "listening", body)
	assert.False(t, <-tryNext, "TryNext with no request waiting")

	for _, m := range []string{"hi", "there"} {
		_, body = get(t, bob, ts.URL+"/say?m="+m)
		assert.Equal(t, "said", body)
		select {
		case <-heardOne:
		case <-time.After(time.Second):
			t.Fatal("alice's session did not hear bob while it had no request")
		}
	}
	_, body = get(t, alice, ts.URL+"/")
	assert.Equal(t, "heard hi,there", body)
	_, body = get(t, alice, ts.URL+"/")
	assert.Equal(t, "heard hi,there", body)
}
