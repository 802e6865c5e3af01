package continuity_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/progress"
)

// meterApp serves "/work": it starts the meter "work" of total 5, answers
// at once (streaming), then advances the meter once per value received on
// step and finishes when step is closed; the session stays busy
// throughout. Other paths get "page".
func meterApp(step <-chan struct{}) func(*continuity.Request) {
	return func(r *continuity.Request) {
		for {
			if r.Path() == "/work" {
				m, err := progress.Start(r, "work", progress.Total(5))
				if err != nil {
					r.SetStatus(http.StatusConflict)
				} else {
					r.Print("started")
					r.Flush()
					func() {
						defer m.Done()
						for {
							select {
							case _, ok := <-step:
								if !ok {
									return
								}
								m.Inc()
							case <-r.Context().Done():
								return
							}
						}
					}()
				}
			} else {
				r.Print("page")
			}
			r.Next()
		}
	}
}

type meterJSON struct {
	Total      int      `json:"total"`
	Count      int      `json:"count"`
	Messages   []string `json:"messages"`
	InProgress bool     `json:"in_progress"`
	Status     string   `json:"status"`
}

// beginWork sends /work for c and returns once the meter runs; the
// response stays open while the session works.
func beginWork(t *testing.T, c *http.Client, base string) {
	t.Helper()
	resp, err := c.Get(base + "/work")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	t.Cleanup(func() { resp.Body.Close() })
	buf := make([]byte, len("started"))
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	go io.Copy(io.Discard, resp.Body)
}

func TestProgressStatusEndpoint(t *testing.T) {
	step := make(chan struct{})
	srv, ts := start(t, meterApp(step), nil)
	owner := browser(t)
	beginWork(t, owner, ts.URL)

	// Answered while the session is busy in the work.
	step <- struct{}{}
	step <- struct{}{}
	resp, err := owner.Get(ts.URL + "/_progress_status/work")
	require.NoError(t, err)
	var s meterJSON
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, meterJSON{Total: 5, Count: 2, Messages: []string{}, InProgress: true}, s)

	// Nobody else reads it, and asking creates no session.
	created := srv.Metrics().SessionsCreated
	code, missing := get(t, owner, ts.URL+"/_progress_status/nothing")
	assert.Equal(t, http.StatusNotFound, code)
	other := browser(t)
	get(t, other, ts.URL+"/")
	created++
	for _, c := range []*http.Client{other, {Timeout: 10 * time.Second}} {
		resp, err := c.Get(ts.URL + "/_progress_status/work?since=2&wait=1s")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.Equal(t, missing, string(body))
		assert.Empty(t, resp.Header.Values("Set-Cookie"))
	}
	for _, method := range []string{http.MethodPost, http.MethodHead} {
		req, _ := http.NewRequest(method, ts.URL+"/_progress_status/work", nil)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Empty(t, resp.Header.Values("Set-Cookie"), method)
		assert.Contains(t, []int{http.StatusMethodNotAllowed, http.StatusNotFound}, resp.StatusCode, method)
	}
	assert.Equal(t, created, srv.Metrics().SessionsCreated, "the status endpoint created a session")

	// A long-poll follows the work to the end.
	got := make(chan meterJSON, 1)
	go func() {
		resp, err := owner.Get(ts.URL + "/_progress_status/work?since=2&wait=10s")
		if err != nil {
			close(got)
			return
		}
		var s meterJSON
		json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		got <- s
	}()
	step <- struct{}{}
	s = <-got
	assert.Equal(t, 3, s.Count)
	step <- struct{}{}
	step <- struct{}{}
	close(step)
	require.Eventually(t, func() bool {
		resp, err := owner.Get(ts.URL + "/_progress_status/work")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var s meterJSON
		return json.NewDecoder(resp.Body).Decode(&s) == nil && !s.InProgress && s.Count == 5
	}, 5*time.Second, 10*time.Millisecond)
}

func TestProgressShutdownEndsWatchers(t *testing.T) {
	step := make(chan struct{})
	store := progress.NewMemoryStore(progress.MemoryOptions{})
	srv, ts := start(t, meterApp(step), &continuity.Options{Progress: progress.Options{Store: store}})
	owner := browser(t)
	beginWork(t, owner, ts.URL)

	polled := make(chan int, 1)
	go func() {
		resp, err := owner.Get(ts.URL + "/_progress_status/work?since=0&wait=30s")
		if err != nil {
			polled <- 0
			return
		}
		resp.Body.Close()
		polled <- resp.StatusCode
	}()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/_progress_status/work", nil)
	req.Header.Set("Accept", "text/event-stream")
	stream := *owner
	stream.Timeout = 0
	resp, err := stream.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	sc := bufio.NewScanner(resp.Body)
	require.True(t, sc.Scan())
	streamed := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		close(streamed)
	}()
	require.Eventually(t, func() bool { return store.Waiting() == 2 }, 5*time.Second, time.Millisecond)

	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	select {
	case code := <-polled:
		assert.Equal(t, http.StatusOK, code)
	case <-time.After(5 * time.Second):
		t.Fatal("the long-poll outlived the shutdown")
	}
	select {
	case <-streamed:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream outlived the shutdown")
	}
	assert.Less(t, time.Since(begin), 3*time.Second)
}

func TestProgressCloseEndsWatchers(t *testing.T) {
	step := make(chan struct{})
	store := progress.NewMemoryStore(progress.MemoryOptions{})
	srv, ts := start(t, meterApp(step), &continuity.Options{Progress: progress.Options{Store: store}})
	owner := browser(t)
	beginWork(t, owner, ts.URL)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		if resp, err := owner.Get(ts.URL + "/_progress_status/work?since=0&wait=30s"); err == nil {
			resp.Body.Close()
		}
	}()
	require.Eventually(t, func() bool { return store.Waiting() == 1 }, 5*time.Second, time.Millisecond)
	begin := time.Now()
	require.NoError(t, srv.Close())
	select {
	case <-polled:
	case <-time.After(5 * time.Second):
		t.Fatal("the long-poll outlived Close")
	}
	assert.Less(t, time.Since(begin), 3*time.Second)
	require.Eventually(t, func() bool { return store.Len() == 0 }, 5*time.Second, time.Millisecond, "meters outlived their sessions")
}

func TestProgressOptions(t *testing.T) {
	step := make(chan struct{})
	_, ts := start(t, meterApp(step), &continuity.Options{
		Progress: progress.Options{Retention: 50 * time.Millisecond, MaxWait: 100 * time.Millisecond},
	})
	owner := browser(t)
	beginWork(t, owner, ts.URL)

	// MaxWait bounds a long-poll.
	begin := time.Now()
	code, body := get(t, owner, ts.URL+"/_progress_status/work?since=0&wait=30s")
	assert.Equal(t, http.StatusOK, code, body)
	assert.Less(t, time.Since(begin), 5*time.Second)

	// Retention frees a finished meter.
	close(step)
	require.Eventually(t, func() bool {
		code, _ := get(t, owner, ts.URL+"/_progress_status/work")
		return code == http.StatusNotFound
	}, 5*time.Second, 10*time.Millisecond)
	// The session itself lives on.
	code, body = get(t, owner, ts.URL+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.True(t, strings.HasPrefix(body, "page"))
}
