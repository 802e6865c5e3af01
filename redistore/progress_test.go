package redistore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/progress"
	"github.com/continuity-go/continuity/redistore"
)

// noPoll makes watchers rely on pub/sub alone, so that a test that sees
// a wake-up knows where it came from.
const noPoll = time.Hour

func snap(count int, msgs ...string) progress.Snapshot {
	return progress.Snapshot{Name: "job", Total: 10, Count: count, Messages: msgs, Status: "st", InProgress: true}
}

func TestProgressStoreCreateUpdateGet(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s := e.store(redistore.ProgressOptions{})
	c := ctx(t)

	first := progress.Snapshot{Name: "job", ID: "p1", Total: 10, Messages: []string{"a \"quoted\"\nline", "é ✓"}, Status: "starting up"}
	v1, err := s.Create(c, "scope", "job/p1", first)
	require.NoError(t, err)
	got, err := s.Get(c, "scope", "job/p1")
	require.NoError(t, err)
	first.InProgress, first.Version = true, v1
	assert.Equal(t, first, got)
	// Versions come from the Redis clock in microseconds: far above any
	// an earlier life of the scope handed out, still exact in JavaScript.
	assert.Greater(t, v1, uint64(time.Now().Add(-time.Hour).UnixMicro()))
	assert.Less(t, v1, uint64(1)<<53)

	_, err = s.Create(c, "scope", "job/p1", snap(0))
	require.ErrorIs(t, err, progress.ErrRunning)

	next := snap(3, "x")
	next.ID = "p1"
	v2, err := s.Update(c, "scope", "job/p1", next)
	require.NoError(t, err)
	assert.Greater(t, v2, v1)
	next.InProgress = false
	v3, err := s.Update(c, "scope", "job/p1", next)
	require.NoError(t, err)
	got, err = s.Get(c, "scope", "job/p1")
	require.NoError(t, err)
	next.Version = v3
	assert.Equal(t, next, got)

	// A finished meter is replaced by a new one of its key.
	v4, err := s.Create(c, "scope", "job/p1", snap(0))
	require.NoError(t, err)
	assert.Greater(t, v4, v3)

	_, err = s.Update(c, "scope", "other", snap(1))
	require.ErrorIs(t, err, progress.ErrNotFound)
	_, err = s.Get(c, "scope", "other")
	require.ErrorIs(t, err, progress.ErrNotFound)
	_, err = s.Get(c, "another scope", "job/p1")
	require.ErrorIs(t, err, progress.ErrNotFound)

	require.NoError(t, s.DeleteScope(c, "scope"))
	_, err = s.Get(c, "scope", "job/p1")
	require.ErrorIs(t, err, progress.ErrNotFound)
	v5, err := s.Create(c, "scope", "job/p1", snap(0))
	require.NoError(t, err)
	assert.Greater(t, v5, v4, "versions keep growing after the scope is freed")
}

func TestProgressStoreChangesCrossNodes(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := e.store(redistore.ProgressOptions{PollInterval: noPoll, History: 3})
	b := e.store(redistore.ProgressOptions{PollInterval: noPoll, History: 3})
	c := ctx(t)

	v1, err := a.Create(c, "s", "job", snap(0))
	require.NoError(t, err)

	// B waits for what comes after v1; A's update wakes it.
	got := make(chan []progress.Snapshot, 1)
	go func() {
		ch, err := b.Changes(c, "s", "job", v1)
		assert.NoError(t, err)
		got <- ch
	}()
	eventually(t, "B waits", func() bool { return b.Waiting() == 1 })
	assert.Equal(t, 0, a.Waiting())
	v2, err := a.Update(c, "s", "job", snap(1, "m"))
	require.NoError(t, err)
	ch := <-got
	require.Len(t, ch, 1)
	assert.Equal(t, v2, ch[0].Version)
	assert.Equal(t, 1, ch[0].Count)
	assert.Equal(t, []string{"m"}, ch[0].Messages)

	// The history keeps the last 3 states; a watcher further behind gets
	// those, ending with the current one.
	var vs []uint64
	for i := 2; i <= 5; i++ {
		v, err := a.Update(c, "s", "job", snap(i))
		require.NoError(t, err)
		vs = append(vs, v)
	}
	ch, err = b.Changes(c, "s", "job", v1)
	require.NoError(t, err)
	require.Len(t, ch, 3)
	assert.Equal(t, vs[1:], []uint64{ch[0].Version, ch[1].Version, ch[2].Version})
	ch, err = b.Changes(c, "s", "job", vs[2])
	require.NoError(t, err)
	assert.Equal(t, []uint64{vs[3]}, []uint64{ch[0].Version})
	// A version newer than the current one counts as older than all.
	ch, err = b.Changes(c, "s", "job", vs[3]+1000)
	require.NoError(t, err)
	require.Len(t, ch, 1)
	assert.Equal(t, vs[3], ch[0].Version)

	// Up to date: it waits until its context ends.
	short, cancel := context.WithTimeout(c, 50*time.Millisecond)
	defer cancel()
	_, err = b.Changes(short, "s", "job", vs[3])
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 0, b.Waiting())
}

func TestProgressStoreWatchersLearnOfDeletionAndReplacement(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := e.store(redistore.ProgressOptions{PollInterval: noPoll})
	b := e.store(redistore.ProgressOptions{PollInterval: noPoll})
	c := ctx(t)

	// A watcher of a finished meter follows its replacement.
	_, err := a.Create(c, "s", "job", snap(0))
	require.NoError(t, err)
	done := snap(10)
	done.InProgress = false
	vDone, err := a.Update(c, "s", "job", done)
	require.NoError(t, err)
	got := make(chan []progress.Snapshot, 1)
	go func() {
		ch, err := b.Changes(c, "s", "job", vDone)
		assert.NoError(t, err)
		got <- ch
	}()
	eventually(t, "B waits", func() bool { return b.Waiting() == 1 })
	vNew, err := a.Create(c, "s", "job", snap(0))
	require.NoError(t, err)
	ch := <-got
	require.Len(t, ch, 1)
	assert.Equal(t, vNew, ch[0].Version)
	assert.True(t, ch[0].InProgress)

	// Watchers of every meter of a scope learn that it was freed.
	_, err = a.Create(c, "s", "other", snap(0))
	require.NoError(t, err)
	errs := make(chan error, 2)
	for _, key := range []string{"job", "other"} {
		go func() {
			cur, err := b.Get(c, "s", key)
			assert.NoError(t, err)
			_, err = b.Changes(c, "s", key, cur.Version)
			errs <- err
		}()
	}
	eventually(t, "B waits twice", func() bool { return b.Waiting() == 2 })
	require.NoError(t, a.DeleteScope(c, "s"))
	require.ErrorIs(t, <-errs, progress.ErrNotFound)
	require.ErrorIs(t, <-errs, progress.ErrNotFound)
}

// TestProgressStoreExpiryEndsWatchers: Redis frees a meter by TTL without
// announcing it; a watcher learns of it at its next poll.
func TestProgressStoreExpiryEndsWatchers(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s := e.store(redistore.ProgressOptions{PollInterval: 20 * time.Millisecond})
	c := ctx(t)
	v, err := s.Create(c, "s", "job", snap(0))
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Changes(c, "s", "job", v)
		errc <- err
	}()
	eventually(t, "waiting", func() bool { return s.Waiting() == 1 })
	// What the TTL would do, now.
	keys, err := e.client().Keys(c, "continuity:progress:{s}:m:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.NoError(t, e.client().Del(c, keys...).Err())
	require.ErrorIs(t, <-errc, progress.ErrNotFound)
}

func TestProgressStoreTTLs(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	rc := e.client()
	s := e.store(redistore.ProgressOptions{Prefix: "app1:", IdleTTL: time.Hour, Retention: time.Minute})
	c := ctx(t)
	_, err := s.Create(c, "s", "job", snap(0))
	require.NoError(t, err)
	keys, err := rc.Keys(c, "*").Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"app1:progress:{s}:m:job", "app1:progress:{s}:idx", "app1:progress:{s}:seq"}, keys)
	ttl := func(k string) time.Duration {
		d, err := rc.PTTL(c, k).Result()
		require.NoError(t, err)
		return d
	}
	// In progress: freed if idle for IdleTTL (its node died).
	assert.InDelta(t, time.Hour, ttl("app1:progress:{s}:m:job"), float64(time.Minute))
	assert.InDelta(t, time.Hour, ttl("app1:progress:{s}:idx"), float64(time.Minute))
	assert.InDelta(t, time.Hour, ttl("app1:progress:{s}:seq"), float64(time.Minute))
	// Finished: freed after Retention.
	done := snap(10)
	done.InProgress = false
	_, err = s.Update(c, "s", "job", done)
	require.NoError(t, err)
	assert.InDelta(t, time.Minute, ttl("app1:progress:{s}:m:job"), float64(10*time.Second))
	assert.InDelta(t, time.Hour, ttl("app1:progress:{s}:fin"), float64(time.Minute))

	_, err = redistore.NewProgressStore(rc, redistore.ProgressOptions{Prefix: "a{b}:"})
	require.ErrorContains(t, err, "brace")
	_, err = redistore.NewProgressStore(nil, redistore.ProgressOptions{})
	require.Error(t, err)
}

func TestProgressStoreBounds(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	c := ctx(t)

	t.Run("meters per scope", func(t *testing.T) {
		s := e.store(redistore.ProgressOptions{Prefix: "n:", MaxPerScope: 2})
		_, err := s.Create(c, "s", "a", snap(0))
		require.NoError(t, err)
		_, err = s.Create(c, "s", "b", snap(0))
		require.NoError(t, err)
		_, err = s.Create(c, "s", "c", snap(0))
		require.ErrorIs(t, err, progress.ErrTooMany)
		_, err = s.Create(c, "other", "c", snap(0))
		require.NoError(t, err, "the bound is per scope")
		done := snap(10)
		done.InProgress = false
		_, err = s.Update(c, "s", "a", done)
		require.NoError(t, err)
		_, err = s.Create(c, "s", "c", snap(0))
		require.NoError(t, err, "the finished meter makes room")
		_, err = s.Get(c, "s", "a")
		require.ErrorIs(t, err, progress.ErrNotFound)
		_, err = s.Get(c, "s", "b")
		require.NoError(t, err)
	})

	t.Run("bytes per scope", func(t *testing.T) {
		s := e.store(redistore.ProgressOptions{Prefix: "b:", MaxScopeBytes: 1000, History: 8})
		big := strings.Repeat("x", 400)
		_, err := s.Create(c, "s", "huge", snap(0, big, big, big))
		require.ErrorIs(t, err, progress.ErrFull)
		_, err = s.Create(c, "s", "a", snap(0, big))
		require.NoError(t, err)
		// Updates drop older states to make room...
		for i := 1; i <= 3; i++ {
			_, err = s.Update(c, "s", "a", snap(i, big))
			require.NoError(t, err)
		}
		hist, err := e.client().LLen(c, "b:progress:{s}:m:a").Result()
		require.NoError(t, err)
		assert.Equal(t, int64(2), hist)
		// ...then record a state without the new text that does not fit,
		// keeping its numbers and its end.
		last := snap(7, big, big, big)
		last.InProgress = false
		v, err := s.Update(c, "s", "a", last)
		require.ErrorIs(t, err, progress.ErrFull)
		require.NotZero(t, v)
		got, err := s.Get(c, "s", "a")
		require.NoError(t, err)
		assert.Equal(t, v, got.Version)
		assert.Equal(t, 7, got.Count)
		assert.False(t, got.InProgress)
		assert.Equal(t, []string{big}, got.Messages)
		// A second meter that does not fit beside it evicts it, finished.
		_, err = s.Create(c, "s", "b", snap(0, big, big))
		require.NoError(t, err)
		_, err = s.Get(c, "s", "a")
		require.ErrorIs(t, err, progress.ErrNotFound)
	})
}

// TestProgressStoreReconnects: watchers keep working across a Redis
// restart: the subscription comes back by itself.
func TestProgressStoreReconnects(t *testing.T) {
	e := newEnv(t, redistest.Options{AppendOnly: true, AppendFsync: "always"})
	a := e.store(redistore.ProgressOptions{PollInterval: noPoll})
	b := e.store(redistore.ProgressOptions{PollInterval: noPoll})
	c := ctx(t)
	v, err := a.Create(c, "s", "job", snap(0))
	require.NoError(t, err)
	got := make(chan []progress.Snapshot, 1)
	go func() {
		ch, err := b.Changes(c, "s", "job", v)
		assert.NoError(t, err)
		got <- ch
	}()
	eventually(t, "B waits", func() bool { return b.Waiting() == 1 })
	e.srv.Restart()
	v2, err := a.Update(c, "s", "job", snap(1))
	require.NoError(t, err)
	ch := <-got
	require.NotEmpty(t, ch)
	assert.Equal(t, v2, ch[len(ch)-1].Version)

	// And again, for a watcher that starts after the restart.
	go func() {
		ch, err := b.Changes(c, "s", "job", v2)
		assert.NoError(t, err)
		got <- ch
	}()
	eventually(t, "B waits", func() bool { return b.Waiting() == 1 })
	v3, err := a.Update(c, "s", "job", snap(2))
	require.NoError(t, err)
	ch = <-got
	assert.Equal(t, v3, ch[len(ch)-1].Version)
}

func TestProgressStoreCloseEndsWatchers(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s, err := redistore.NewProgressStore(e.client(), redistore.ProgressOptions{PollInterval: noPoll})
	require.NoError(t, err)
	c := ctx(t)
	v, err := s.Create(c, "s", "job", snap(0))
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Changes(c, "s", "job", v)
		errc <- err
	}()
	eventually(t, "waiting", func() bool { return s.Waiting() == 1 })
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-errc, redistore.ErrClosed)
	require.NoError(t, s.Close())
	_, err = s.Changes(c, "s", "job", v)
	require.ErrorIs(t, err, redistore.ErrClosed)
	_, err = s.Get(c, "s", "job")
	require.NoError(t, err, "reads without waiting go on")
}

// TestProgressStoreExpiredMetersFreeTheirBytes: a meter Redis freed by
// TTL no longer counts against its session's bytes.
func TestProgressStoreExpiredMetersFreeTheirBytes(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s := e.store(redistore.ProgressOptions{MaxScopeBytes: 1000})
	c := ctx(t)
	big := strings.Repeat("x", 400)
	_, err := s.Create(c, "s", "old", snap(0, big))
	require.NoError(t, err)
	_, err = s.Create(c, "s", "a", snap(0))
	require.NoError(t, err)
	require.NoError(t, e.client().Del(c, "continuity:progress:{s}:m:old").Err()) // as its TTL would
	_, err = s.Update(c, "s", "a", snap(1, big, big))
	require.NoError(t, err)
	got, err := s.Get(c, "s", "a")
	require.NoError(t, err)
	assert.Len(t, got.Messages, 2)
}
