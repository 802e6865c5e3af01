package redistore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/progress"
	"github.com/continuity-go/continuity/redistore"
)

// status is the progress endpoint's JSON.
type status struct {
	Count      int      `json:"count"`
	Messages   []string `json:"messages"`
	InProgress bool     `json:"in_progress"`
	Version    uint64   `json:"version"`
}

// meterApp starts the meter "job" on /start and drives it on the next
// requests: /inc, /msg?m=…, /done.
func meterApp(r *continuity.Request) {
	var m *progress.Meter
	for {
		switch r.Path() {
		case "/start":
			var err error
			if m, err = progress.Start(r, "job", progress.Total(3)); err != nil {
				r.Print(err)
			}
		case "/inc":
			m.Inc()
		case "/msg":
			m.Message(r.Param("m"))
		case "/done":
			m.Done()
		}
		r.Print("ok")
		r.Next()
	}
}

// TestProgressMeterStartedOnAIsWatchedThroughB: node A, a continuity
// server, runs the session that advances a meter; node B, a progress
// Handler of its own on another Redis client, answers the meter's status,
// long polls and event streams from Redis alone, woken by A's changes.
// (B is handed A's session, as a node that took the session over would
// hold it: the scope of the meters travels with the session.)
func TestProgressMeterStartedOnAIsWatchedThroughB(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	storeA := e.store(redistore.ProgressOptions{PollInterval: noPoll})
	storeB := e.store(redistore.ProgressOptions{PollInterval: noPoll})

	var sess atomic.Pointer[continuity.Session]
	srvA, err := continuity.New(meterApp, &continuity.Options{
		Progress: progress.Options{Store: storeA},
		Hooks:    continuity.Hooks{SessionStart: func(s *continuity.Session) { sess.Store(s) }},
	})
	require.NoError(t, err)
	nodeA := httptest.NewServer(srvA)
	hB := progress.New(progress.Options{Store: storeB})
	nodeB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hB.ServeStatus(w, r, sess.Load(), strings.TrimPrefix(r.URL.Path, "/_progress_status/"))
	}))
	t.Cleanup(func() {
		nodeB.Close()
		require.NoError(t, hB.Shutdown(context.Background()))
	})
	stopA := func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srvA.Shutdown(c))
		nodeA.Close()
	}
	t.Cleanup(stopA)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	br := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	get := func(url string) (int, string) {
		resp, err := br.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	onA := func(path string) {
		code, body := get(nodeA.URL + path)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "ok", body)
	}
	statusB := func(query string) (int, status) {
		code, body := get(nodeB.URL + "/_progress_status/job" + query)
		var s status
		if code == http.StatusOK {
			require.NoError(t, json.Unmarshal([]byte(body), &s), body)
		}
		return code, s
	}

	onA("/start")
	code, s := statusB("")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 0, s.Count)
	assert.True(t, s.InProgress)

	// A long poll on B is answered by A's change.
	polled := make(chan status, 1)
	go func() {
		_, s := statusB("?since=0&wait=30")
		polled <- s
	}()
	eventually(t, "B's store waits", func() bool { return storeB.Waiting() == 1 })
	assert.Equal(t, 0, storeA.Waiting(), "B reads through its own store")
	onA("/inc")
	s = <-polled
	assert.Equal(t, 1, s.Count)

	// An event stream on B follows A's changes to the end.
	req, err := http.NewRequest(http.MethodGet, nodeB.URL+"/_progress_status/job", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := br.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	events := make(chan status, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var s status
				assert.NoError(t, json.Unmarshal([]byte(data), &s))
				events <- s
			}
		}
	}()
	first := <-events
	assert.Equal(t, 1, first.Count)
	onA("/msg?m=halfway")
	onA("/inc")
	onA("/done")
	var seen []status
	for s := range events { // the stream ends with the meter
		seen = append(seen, s)
	}
	require.NotEmpty(t, seen)
	last := seen[len(seen)-1]
	assert.False(t, last.InProgress)
	assert.Equal(t, 2, last.Count)
	assert.Equal(t, []string{"halfway"}, last.Messages)
	prev := first.Version
	for _, s := range seen {
		assert.Greater(t, s.Version, prev, "versions grow along the stream")
		prev = s.Version
	}

	// Finished, it stays readable through B; when the session ends on A,
	// its meters are freed for every node.
	code, s = statusB("")
	require.Equal(t, http.StatusOK, code)
	assert.False(t, s.InProgress)
	stopA()
	eventually(t, "freed", func() bool {
		code, _ := statusB("")
		return code == http.StatusNotFound
	})
}

// TestProgressMeterAfterATakeover: a node that takes a session over
// shows the session's meters as its replay of the flow starts and drives
// them again; the drained node's copies are gone from Redis.
func TestProgressMeterAfterATakeover(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	withProgress := func(o *continuity.Options) {
		o.Progress = progress.Options{Store: e.store(redistore.ProgressOptions{PollInterval: noPoll})}
	}
	a := e.nodeWith(t, "a", time.Minute, meterApp, nil, withProgress)
	b := e.nodeWith(t, "b", time.Minute, meterApp, nil, withProgress)
	c := browser(t)
	step := func(n *ctNode, path string) {
		t.Helper()
		code, body := get(t, c, n.web.URL+path)
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "ok", body)
	}
	statusOn := func(n *ctNode) (int, status) {
		t.Helper()
		code, body := get(t, c, n.web.URL+"/_progress_status/job")
		var s status
		if code == http.StatusOK {
			require.NoError(t, json.Unmarshal([]byte(body), &s), body)
		}
		return code, s
	}
	step(a, "/start")
	step(a, "/inc")
	step(a, "/msg?m=half")
	code, s := statusOn(a)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1, s.Count)

	raw := e.client()
	before, err := raw.Keys(ctx(t), "*").Result()
	require.NoError(t, err)
	require.NoError(t, a.srv.Drain(ctx(t)))
	code, _ = statusOn(b)
	assert.Equal(t, http.StatusNotFound, code, "a status request starts no session, nor a takeover")

	step(b, "/inc") // the takeover: /start, /inc and /msg replayed, then this /inc
	code, s = statusOn(b)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 2, s.Count)
	assert.Equal(t, []string{"half"}, s.Messages)
	assert.True(t, s.InProgress)
	after, err := raw.Keys(ctx(t), "continuity:progress:*").Result()
	require.NoError(t, err)
	for _, k := range after {
		ttl, err := raw.PTTL(ctx(t), k).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "%s expires (nothing of the old copy stays for good)", k)
	}
	var old []string
	for _, k := range before {
		if strings.HasPrefix(k, "continuity:progress:") && strings.HasSuffix(k, ":m:job") {
			old = append(old, k)
		}
	}
	require.Len(t, old, 1)
	assert.NotContains(t, after, old[0], "the drained node deleted its copy's meter")
}
