package progress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/handoff"
	"github.com/continuity-go/continuity/request"
)

// started starts a meter in the session of b (inside /work).
func started(t *testing.T, c *ctl, name string, opts ...Option) *Meter {
	t.Helper()
	var m *Meter
	var err error
	c.do(t, func(r *request.Request) { m, err = Start(r, name, opts...) })
	require.NoError(t, err)
	return m
}

func TestCountsRiseAndFinishAtTotal(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()
	c.begin(t, b, "")
	m := started(t, c, "work", Total(20))

	s, code := b.status("work")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, status{Name: "work", Total: 20, Count: 0, Messages: []string{}, InProgress: true, Version: s.Version}, s)

	// A watcher follows with long-polls while the session works.
	seen := make(chan []int, 1)
	go func() {
		var counts []int
		since := 0
		for {
			s, code := b.status("work?wait=10s&since=" + strconv.Itoa(since))
			if code != http.StatusOK {
				break
			}
			counts = append(counts, s.Count)
			since = s.Count
			if !s.InProgress {
				break
			}
		}
		seen <- counts
	}()
	c.do(t, func(r *request.Request) {
		for i := 1; i <= 20; i++ {
			m.Inc()
			if i%5 == 0 {
				m.Message(fmt.Sprintf("%d done", i))
			}
			time.Sleep(time.Millisecond) // the work
		}
		m.Status("finished")
		m.Done()
	})
	counts := <-seen
	require.NotEmpty(t, counts)
	assert.IsNonDecreasing(t, counts)
	assert.Equal(t, 20, counts[len(counts)-1])

	s, code = b.status("work")
	require.Equal(t, http.StatusOK, code)
	assert.False(t, s.InProgress)
	assert.Equal(t, 20, s.Count)
	assert.Equal(t, "finished", s.Status)
	assert.Equal(t, []string{"5 done", "10 done", "15 done", "20 done"}, s.Messages)
	c.end(t)
}

func TestOnlyTheOwnerReadsAMeter(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	owner := hs.browser()
	c.begin(t, owner, "")
	started(t, c, "work")

	_, code := owner.status("work")
	require.Equal(t, http.StatusOK, code)

	// The 404 for a meter of another session is the 404 for a name that
	// exists nowhere.
	code, missing, missingResp := owner.do(http.MethodGet, "/_progress_status/nope")
	require.Equal(t, http.StatusNotFound, code)
	other := hs.browser()
	other.get("/") // a session of its own
	nobody := hs.browser()
	nobody.c.Jar = nil
	for _, cl := range []*browser{other, nobody} {
		for _, path := range []string{"work", "work?wait=1s&since=0", "work?since=5"} {
			code, body, resp := cl.do(http.MethodGet, "/_progress_status/"+path)
			assert.Equal(t, http.StatusNotFound, code, path)
			assert.Equal(t, missing, body, path)
			assert.Equal(t, `{"error":"not found"}`+"\n", body)
			assert.Equal(t, missingResp.Header.Get("Content-Type"), resp.Header.Get("Content-Type"))
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.Empty(t, resp.Header.Values("Set-Cookie"))
		}
		code, body, _ := cl.do(http.MethodGet, "/_progress_status/work", "Accept", "text/event-stream")
		assert.Equal(t, http.StatusNotFound, code)
		assert.Equal(t, missing, body)
	}
	hs.mu.Lock()
	assert.Len(t, hs.sessions, 2, "the status endpoint created a session")
	hs.mu.Unlock()
	c.end(t)
}

func TestBadNames(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()
	c.begin(t, b, "")
	long := string(make([]byte, MaxNameLen+1))
	for _, name := range []string{"", "a/b", "..", "a..b", "a\\b", "a\x00b", "a\nb", long, "\xff"} {
		var err error
		c.do(t, func(r *request.Request) { _, err = Start(r, name) })
		assert.ErrorIs(t, err, ErrBadName, "%q", name)
	}
	for _, path := range []string{"", "a/b", "..", "a..b", "%2e%2e", "a%2Fb", "a%00b", "x?progress_id=a/b", "x?progress_id=..", "a%5Cb"} {
		code, body, _ := b.do(http.MethodGet, "/_progress_status/"+path)
		assert.Equal(t, http.StatusNotFound, code, path)
		assert.Equal(t, `{"error":"not found"}`+"\n", body, path)
	}
	code, body, resp := b.do(http.MethodPost, "/_progress_status/x")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
	assert.Contains(t, body, `"error"`)
	for _, q := range []string{"since=x", "version=-1", "wait=soon", "wait=NaN"} {
		code, _, _ := b.do(http.MethodGet, "/_progress_status/x?"+q)
		assert.Equal(t, http.StatusBadRequest, code, q)
	}
	c.end(t)
}

func TestDuplicateStartIsRefused(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()
	c.begin(t, b, "")
	m := started(t, c, "work", Total(10), Messages("begun"))
	m.Add(3)
	before, _ := b.status("work")

	var err error
	var running bool
	c.do(t, func(r *request.Request) {
		running = Running(r, "work")
		_, err = Start(r, "work", Total(99), Count(7))
	})
	assert.True(t, running)
	require.ErrorIs(t, err, ErrRunning)
	assert.Equal(t, `progress: meter "work": already running`, err.Error())
	after, _ := b.status("work")
	assert.Equal(t, before, after, "the refused start disturbed the running meter")

	m.Inc()
	s, _ := b.status("work")
	assert.Equal(t, 4, s.Count)
	assert.Equal(t, 10, s.Total)

	// Once finished, the name can be started again; the new meter replaces
	// the old one.
	m.Done()
	c.do(t, func(r *request.Request) {
		running = Running(r, "work")
		err = Run(r, "work", func(m *Meter) error {
			m.Set(5)
			return errors.New("boom")
		}, Total(7))
	})
	assert.False(t, running)
	assert.EqualError(t, err, "boom")
	s, _ = b.status("work")
	assert.Equal(t, status{Name: "work", Total: 7, Count: 5, Messages: []string{}, Version: s.Version}, s)
	assert.Greater(t, s.Version, after.Version)
	c.end(t)
}

func TestProgressIDKeysMeters(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()

	c.begin(t, b, "progress_id=a")
	ma := started(t, c, "work")
	c.end(t)
	c.begin(t, b, "progress_id=b")
	mb := started(t, c, "work")
	var err error
	c.do(t, func(r *request.Request) { _, err = Start(r, "work") })
	assert.ErrorIs(t, err, ErrRunning)
	ma.Add(10)
	mb.Add(20)
	assert.Equal(t, "a", ma.ID())

	sa, code := b.status("work?progress_id=a")
	require.Equal(t, http.StatusOK, code)
	sb, _ := b.status("work?progress_id=b")
	assert.Equal(t, "a", sa.ProgressID)
	assert.Equal(t, 10, sa.Count)
	assert.Equal(t, 20, sb.Count)
	_, code = b.status("work")
	assert.Equal(t, http.StatusNotFound, code, "no meter without an ID")
	c.end(t)
}

func TestLongPollEndsWhenTheClientGoes(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()
	c.begin(t, b, "")
	started(t, c, "work")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.ts.URL+"/_progress_status/work?since=0&wait=30s", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := b.c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return hs.h.watchers() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	require.Error(t, <-done)
	require.Eventually(t, func() bool { return hs.h.watchers() == 0 }, 5*time.Second, time.Millisecond)
	c.end(t)
}

func TestStreamEndsWhenTheClientGoes(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()
	c.begin(t, b, "")
	m := started(t, c, "work")
	ctx, cancel := context.WithCancel(context.Background())
	_, events := b.stream(ctx, "work")
	<-events
	require.Eventually(t, func() bool { return hs.h.watchers() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	for range events {
	}
	require.Eventually(t, func() bool { return hs.h.watchers() == 0 }, 5*time.Second, time.Millisecond)
	m.Inc() // nobody is listening: no write to a dead stream
	c.end(t)
}

func TestSSE(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()
	c.begin(t, b, "")
	m := started(t, c, "work", Total(30))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, events := b.stream(ctx, "work")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	first := <-events
	assert.Equal(t, 0, first.data.Count)
	assert.Equal(t, strconv.FormatUint(first.data.Version, 10), first.id)

	// Every change, in order, even when they come faster than the client
	// reads them (the store keeps recent states).
	for range 30 {
		m.Inc()
	}
	m.Done()
	var counts []int
	var ids []uint64
	for ev := range events {
		if ev.id == "" {
			continue // a comment
		}
		counts = append(counts, ev.data.Count)
		id, err := strconv.ParseUint(ev.id, 10, 64)
		require.NoError(t, err)
		assert.Equal(t, id, ev.data.Version)
		ids = append(ids, id)
		if !ev.data.InProgress {
			assert.Equal(t, 30, ev.data.Count)
		}
	}
	want := make([]int, 0, 31)
	for i := 1; i <= 30; i++ {
		want = append(want, i)
	}
	want = append(want, 30) // Done
	assert.Equal(t, want, counts, "the stream ends after the final state")
	assert.IsIncreasing(t, ids)

	// Resuming after an event replays the later ones.
	_, events = b.stream(ctx, "work", "Last-Event-ID", strconv.FormatUint(ids[25], 10))
	var resumed []int
	for ev := range events {
		if ev.id != "" {
			resumed = append(resumed, ev.data.Count)
		}
	}
	assert.Equal(t, []int{27, 28, 29, 30, 30}, resumed)

	// Resuming after the final state: 204, which stops EventSource.
	code, _, _ := b.do(http.MethodGet, "/_progress_status/work", "Accept", "text/event-stream", "Last-Event-ID", strconv.FormatUint(ids[len(ids)-1], 10))
	assert.Equal(t, http.StatusNoContent, code)
	// A malformed Last-Event-ID is ignored: the stream starts afresh.
	_, events = b.stream(ctx, "work", "Last-Event-ID", "garbage")
	ev := <-events
	assert.False(t, ev.data.InProgress)
	c.end(t)
}

func TestForgottenMeterFinishesWhenCollected(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()
	c.begin(t, b, "")
	c.do(t, func(r *request.Request) {
		m, err := Start(r, "leaky")
		require.NoError(t, err)
		m.Inc()
		// m is dropped here without Done.
	})
	require.Eventually(t, func() bool {
		runtime.GC()
		s, _ := b.status("leaky")
		return !s.InProgress
	}, 5*time.Second, 10*time.Millisecond)
	c.end(t)
}

func TestMessagesAreBounded(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{MaxMessages: 3})
	b := hs.browser()
	c.begin(t, b, "")
	m := started(t, c, "work", Messages("a", "b", "c", "d"))
	s1 := m.Snapshot()
	assert.Equal(t, []string{"b", "c", "d"}, s1.Messages)
	for _, msg := range []string{"e", "f", "g", "h"} {
		m.Message(msg)
	}
	s, _ := b.status("work")
	assert.Equal(t, []string{"f", "g", "h"}, s.Messages)
	assert.Equal(t, []string{"b", "c", "d"}, s1.Messages, "an old snapshot changed")
	c.end(t)
}

func TestHeadAndPlainJSON(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()
	c.begin(t, b, "")
	started(t, c, "work")
	code, body, resp := b.do(http.MethodHead, "/_progress_status/work?wait=10s&since=0")
	assert.Equal(t, http.StatusOK, code)
	assert.Empty(t, body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	code, body, _ = b.do(http.MethodGet, "/_progress_status/work")
	assert.Equal(t, http.StatusOK, code)
	assert.Regexp(t, `^\{"name":"work","total":100,"count":0,"messages":\[\],"in_progress":true,"status":"","version":\d+\}\n$`, body)
	c.end(t)
}

// F4: many concurrent pollers while the meter advances: no race, and each
// poller sees counts that never go back.
func TestConcurrentPollers(t *testing.T) {
	const pollers = 1000
	c := newCtl()
	// One browser polls 1000 times at once: the per-session watcher cap
	// (its own test is in bounds_test.go) must not refuse them here.
	hs := newHarness(t, c.app, Options{MaxWatchers: pollers})
	b := hs.browser()
	c.begin(t, b, "")
	m := started(t, c, "work", Total(50))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for range pollers {
		wg.Go(func() {
			last, since := -1, 0
			for {
				s, code := b.status("work?wait=10s&since=" + strconv.Itoa(since))
				if code != http.StatusOK || s.Count < last {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("code %d, count %d after %d", code, s.Count, last))
					mu.Unlock()
					return
				}
				last, since = s.Count, s.Count
				if !s.InProgress {
					return
				}
			}
		})
	}
	// Updates from several goroutines at once.
	var workers sync.WaitGroup
	for range 5 {
		workers.Go(func() {
			for range 10 {
				m.Inc()
				time.Sleep(time.Millisecond)
			}
		})
	}
	workers.Wait()
	m.Done()
	wg.Wait()
	assert.Empty(t, failures)
	assert.Equal(t, 50, m.Snapshot().Count)
	c.end(t)
}

func TestStartAfterTheSessionEnded(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{})
	b := hs.browser()
	c.begin(t, b, "")
	var err error
	c.do(t, func(r *request.Request) {
		(*handoff.Session)(r.Session()).Close(request.EndShutdown)
		_, err = Start(r, "late")
	})
	assert.ErrorIs(t, err, request.ErrSessionClosed)
	assert.Equal(t, 0, hs.h.store.(*MemoryStore).Len())
}
