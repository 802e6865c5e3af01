package progress

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/request"
)

// The meters held across all scopes are bounded: one more frees the meter
// that finished first, in whichever scope, and is refused with ErrFull
// when every meter held is in progress.
func TestMemoryStoreMaxMeters(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(MemoryOptions{Retention: -1, MaxMeters: 3})
	for _, sc := range []string{"s1", "s2", "s3"} {
		_, err := s.Create(ctx, sc, "a", Snapshot{})
		require.NoError(t, err)
	}
	_, err := s.Create(ctx, "s4", "a", Snapshot{})
	require.ErrorIs(t, err, ErrFull)
	assert.Equal(t, 3, s.Len())

	_, err = s.Update(ctx, "s2", "a", Snapshot{})
	require.NoError(t, err)
	_, err = s.Update(ctx, "s1", "a", Snapshot{})
	require.NoError(t, err)
	_, err = s.Create(ctx, "s4", "a", Snapshot{})
	require.NoError(t, err, "a finished meter makes room")
	_, err = s.Get(ctx, "s2", "a")
	assert.ErrorIs(t, err, ErrNotFound, "the meter that finished first is freed first")
	_, err = s.Get(ctx, "s1", "a")
	require.NoError(t, err)
	_, err = s.Create(ctx, "s5", "a", Snapshot{})
	require.NoError(t, err)
	_, err = s.Get(ctx, "s1", "a")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.Create(ctx, "s6", "a", Snapshot{})
	require.ErrorIs(t, err, ErrFull)
	assert.Equal(t, 3, s.Len())

	// Replacing a finished meter of the same key takes no more room.
	_, err = s.Update(ctx, "s3", "a", Snapshot{})
	require.NoError(t, err)
	_, err = s.Create(ctx, "s3", "a", Snapshot{Count: 7})
	require.NoError(t, err)
	assert.Equal(t, 3, s.Len())

	// Freed scopes give their room back.
	require.NoError(t, s.DeleteScope(ctx, "s4"))
	_, err = s.Create(ctx, "s6", "a", Snapshot{})
	require.NoError(t, err)
	for _, sc := range []string{"s3", "s5", "s6"} {
		require.NoError(t, s.DeleteScope(ctx, sc))
	}
	assert.Equal(t, 0, s.Len())
	assert.Zero(t, s.bytes.Load())
}

// The bytes held across all scopes are bounded too: a meter whose state
// would pass the bound is refused, and an update that would is recorded
// without its new text (its counts and its end still count), reporting
// ErrFull.
func TestMemoryStoreMaxBytes(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(MemoryOptions{Retention: -1, MaxBytes: 10 << 10})
	big := strings.Repeat("x", 4<<10)
	_, err := s.Create(ctx, "s1", "a", Snapshot{Name: "a", Status: big})
	require.NoError(t, err)
	_, err = s.Create(ctx, "s2", "a", Snapshot{Name: "a", Status: big})
	require.NoError(t, err)
	_, err = s.Create(ctx, "s3", "a", Snapshot{Name: "a", Status: big})
	require.ErrorIs(t, err, ErrFull)
	_, err = s.Create(ctx, "s3", "a", Snapshot{Name: "a", Messages: []string{big}})
	require.ErrorIs(t, err, ErrFull, "messages count as much as status lines")
	held := s.bytes.Load()
	assert.LessOrEqual(t, held, int64(10<<10))
	assert.Greater(t, held, int64(8<<10))

	// Counts still move, and unchanged text costs nothing more.
	for i := 1; i <= 100; i++ {
		_, err := s.Update(ctx, "s1", "a", Snapshot{Name: "a", Status: big, Count: i, InProgress: true})
		require.NoError(t, err)
	}
	// New text that does not fit is not recorded; the rest is.
	v, err := s.Update(ctx, "s1", "a", Snapshot{Name: "a", Status: big + "!", Messages: []string{big}, Count: 101, InProgress: true})
	require.ErrorIs(t, err, ErrFull)
	got, err := s.Get(ctx, "s1", "a")
	require.NoError(t, err)
	assert.Equal(t, v, got.Version)
	assert.Equal(t, 101, got.Count)
	assert.Equal(t, big, got.Status)
	assert.Empty(t, got.Messages)
	assert.LessOrEqual(t, s.bytes.Load(), int64(10<<10))

	// A meter always finishes.
	_, err = s.Update(ctx, "s1", "a", Snapshot{Name: "a", Status: big + "?", Count: 102})
	require.ErrorIs(t, err, ErrFull)
	got, _ = s.Get(ctx, "s1", "a")
	assert.False(t, got.InProgress)
	assert.Equal(t, 102, got.Count)

	// A finished meter makes room.
	_, err = s.Create(ctx, "s3", "a", Snapshot{Name: "a", Status: big})
	require.NoError(t, err)
	_, err = s.Get(ctx, "s1", "a")
	assert.ErrorIs(t, err, ErrNotFound)
	for _, sc := range []string{"s2", "s3"} {
		require.NoError(t, s.DeleteScope(ctx, sc))
	}
	assert.Zero(t, s.bytes.Load())
}

// Start over the server's bound on meters fails with a clear error, and
// the bound holds across sessions.
func TestStartOverTheGlobalBound(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{MaxMeters: 2})
	var browsers []*browser
	var meters []*Meter // in progress: kept from the collector
	defer func() { runtime.KeepAlive(meters) }()
	for i, name := range []string{"one", "two", "three"} {
		b := hs.browser()
		browsers = append(browsers, b)
		c.begin(t, b, "")
		var m *Meter
		var err error
		c.do(t, func(r *request.Request) { m, err = Start(r, name) })
		if i < 2 {
			require.NoError(t, err)
			meters = append(meters, m)
			c.end(t)
			continue
		}
		require.ErrorIs(t, err, ErrFull)
		assert.Equal(t, `progress: meter "three": store full: too many meters or bytes held across all sessions`, err.Error())
		c.end(t)
	}
	_, code := browsers[2].status("three")
	assert.Equal(t, http.StatusNotFound, code)
	_, code = browsers[0].status("one")
	assert.Equal(t, http.StatusOK, code)
}

// Each session may have only so many watchers waiting at once; one more
// gets 429 with Retry-After and says why, while another session's
// watchers are unaffected and a request that does not wait is answered.
func TestWatchersPerSessionAreCapped(t *testing.T) {
	c := newCtl()
	hs := newHarness(t, c.app, Options{MaxWatchers: 2})
	b := hs.browser()
	c.begin(t, b, "")
	m := started(t, c, "work")
	c.end(t)
	other := hs.browser()
	c.begin(t, other, "")
	mo := started(t, c, "work")
	c.end(t)

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, events := b.stream(ctx, "work")
	<-events
	wg.Go(func() { b.status("work?since=0&wait=30s") })
	require.Eventually(t, func() bool { return hs.h.watchers() == 2 }, 5*time.Second, time.Millisecond)

	for _, hdr := range [][]string{nil, {"Accept", "text/event-stream"}} {
		code, body, resp := b.do(http.MethodGet, "/_progress_status/work?since=0&wait=30s", hdr...)
		assert.Equal(t, http.StatusTooManyRequests, code, hdr)
		assert.Equal(t, `{"error":"too many watchers for this session"}`+"\n", body)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	}
	// Not waiting is not watching.
	s, code := b.status("work")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, 0, s.Count)
	// Another session has watchers of its own.
	wg.Go(func() { other.status("work?since=0&wait=30s") })
	require.Eventually(t, func() bool { return hs.h.watchers() == 3 }, 5*time.Second, time.Millisecond)

	// A watcher that ends makes room.
	m.Inc()
	mo.Inc()
	require.Eventually(t, func() bool { return hs.h.watchers() == 1 }, 5*time.Second, time.Millisecond)
	got := make(chan int, 1)
	wg.Go(func() { _, code := b.status("work?since=1&wait=30s"); got <- code })
	require.Eventually(t, func() bool { return hs.h.watchers() == 2 }, 5*time.Second, time.Millisecond)
	m.Done()
	assert.Equal(t, http.StatusOK, <-got)
	mo.Done()
}
