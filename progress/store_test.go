package progress

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The store's tests wait on time (a watcher's deadline, retention), so
// they run in a synctest bubble: time is exact, and passes at once.

func TestMemoryStore(t *testing.T) { synctest.Test(t, testMemoryStore) }

func testMemoryStore(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(MemoryOptions{Retention: -1, MaxPerScope: 2, History: 3})

	_, err := s.Get(ctx, "s", "a")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.Update(ctx, "s", "a", Snapshot{})
	assert.ErrorIs(t, err, ErrNotFound)

	v1, err := s.Create(ctx, "s", "a", Snapshot{Name: "a", Total: 10})
	require.NoError(t, err)
	_, err = s.Create(ctx, "s", "a", Snapshot{Name: "a", Total: 99})
	assert.ErrorIs(t, err, ErrRunning)
	got, err := s.Get(ctx, "s", "a")
	require.NoError(t, err)
	assert.Equal(t, Snapshot{Name: "a", Total: 10, InProgress: true, Version: v1}, got)

	// Scopes are separate.
	_, err = s.Get(ctx, "other", "a")
	assert.ErrorIs(t, err, ErrNotFound)

	// Versions grow; Changes returns what the caller has not seen, up to
	// History states back.
	var vs []uint64
	for i := 1; i <= 5; i++ {
		v, err := s.Update(ctx, "s", "a", Snapshot{Name: "a", Total: 10, Count: i, InProgress: true})
		require.NoError(t, err)
		vs = append(vs, v)
	}
	assert.IsIncreasing(t, append([]uint64{v1}, vs...))
	ch, err := s.Changes(ctx, "s", "a", vs[2])
	require.NoError(t, err)
	assert.Equal(t, []int{4, 5}, counts(ch))
	ch, err = s.Changes(ctx, "s", "a", v1)
	require.NoError(t, err)
	assert.Equal(t, []int{3, 4, 5}, counts(ch), "older states than History are skipped")
	ch, err = s.Changes(ctx, "s", "a", vs[4]+1000)
	require.NoError(t, err)
	assert.Equal(t, []int{5}, counts(ch), "an unknown version gets the current state")

	// Changes waits for the next state, or for its context.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	start := time.Now()
	_, err = s.Changes(short, "s", "a", vs[4])
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 20*time.Millisecond, time.Since(start))
	got1 := make(chan []Snapshot, 1)
	go func() {
		ch, _ := s.Changes(ctx, "s", "a", vs[4])
		got1 <- ch
	}()
	synctest.Wait()
	require.Equal(t, 1, s.Waiting())
	_, err = s.Update(ctx, "s", "a", Snapshot{Name: "a", Count: 6})
	require.NoError(t, err)
	assert.Equal(t, []int{6}, counts(<-got1))

	// A finished meter is replaced by a new Create, and its watchers
	// follow the new one.
	fin, _ := s.Get(ctx, "s", "a")
	assert.False(t, fin.InProgress)
	go func() {
		ch, _ := s.Changes(ctx, "s", "a", fin.Version)
		got1 <- ch
	}()
	synctest.Wait()
	require.Equal(t, 1, s.Waiting())
	_, err = s.Create(ctx, "s", "a", Snapshot{Name: "a", Count: 100})
	require.NoError(t, err)
	assert.Equal(t, []int{100}, counts(<-got1))

	// MaxPerScope: a third meter evicts a finished one, or is refused.
	_, err = s.Create(ctx, "s", "b", Snapshot{})
	require.NoError(t, err)
	_, err = s.Create(ctx, "s", "c", Snapshot{})
	assert.ErrorIs(t, err, ErrTooMany)
	_, err = s.Update(ctx, "s", "b", Snapshot{})
	require.NoError(t, err)
	_, err = s.Create(ctx, "s", "c", Snapshot{})
	require.NoError(t, err)
	_, err = s.Get(ctx, "s", "b")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, 2, s.Len())

	// DeleteScope frees everything and wakes watchers.
	errc := make(chan error, 1)
	go func() {
		cur, _ := s.Get(ctx, "s", "c")
		_, err := s.Changes(ctx, "s", "c", cur.Version)
		errc <- err
	}()
	synctest.Wait()
	require.Equal(t, 1, s.Waiting())
	require.NoError(t, s.DeleteScope(ctx, "s"))
	assert.ErrorIs(t, <-errc, ErrNotFound)
	assert.Equal(t, 0, s.Len())
	assert.Equal(t, 0, s.Waiting())
}

func TestMemoryStoreRetention(t *testing.T) { synctest.Test(t, testMemoryStoreRetention) }

// A finished meter is freed after exactly its retention, and its watchers
// learn of it then.
func testMemoryStoreRetention(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(MemoryOptions{Retention: 30 * time.Millisecond})
	_, err := s.Create(ctx, "s", "a", Snapshot{})
	require.NoError(t, err)
	cur, _ := s.Get(ctx, "s", "a")
	errc := make(chan error, 1)
	go func() {
		// A watcher of the final state learns when the meter is freed.
		fin, err := s.Changes(ctx, "s", "a", cur.Version)
		if err == nil {
			_, err = s.Changes(ctx, "s", "a", fin[len(fin)-1].Version)
		}
		errc <- err
	}()
	synctest.Wait()
	require.Equal(t, 1, s.Waiting())
	_, err = s.Update(ctx, "s", "a", Snapshot{})
	require.NoError(t, err)
	time.Sleep(30*time.Millisecond - 1)
	synctest.Wait()
	assert.Empty(t, errc, "freed early")
	_, err = s.Get(ctx, "s", "a")
	require.NoError(t, err)
	time.Sleep(1)
	synctest.Wait()
	assert.ErrorIs(t, <-errc, ErrNotFound)
	assert.Equal(t, 0, s.Len())
	assert.Zero(t, s.bytes.Load())
}

func counts(ss []Snapshot) []int {
	var out []int
	for _, s := range ss {
		out = append(out, s.Count)
	}
	return out
}
