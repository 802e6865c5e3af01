package progress

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/request"
)

// blockingStore is a MemoryStore whose Update of a final state blocks until
// release is closed (or its context ends), as a store doing network I/O to
// a stuck server would. It reports, on entered, whether that Update ran on
// one of the runtime's cleanup goroutines.
type blockingStore struct {
	*MemoryStore
	entered chan bool
	release chan struct{}
	left    chan error // what the blocked Update returned
}

func newBlockingStore() *blockingStore {
	return &blockingStore{
		MemoryStore: NewMemoryStore(MemoryOptions{}),
		entered:     make(chan bool, 1),
		release:     make(chan struct{}),
		left:        make(chan error, 1),
	}
}

func (s *blockingStore) Update(ctx context.Context, scope, key string, snap Snapshot) (uint64, error) {
	if !snap.InProgress {
		buf := make([]byte, 64<<10)
		buf = buf[:runtime.Stack(buf, false)]
		select {
		case s.entered <- bytes.Contains(buf, []byte("runtime.runCleanups")):
		default:
		}
		select {
		case <-s.release:
		case <-ctx.Done():
			s.left <- ctx.Err()
			return 0, ctx.Err()
		}
		v, err := s.MemoryStore.Update(ctx, scope, key, snap)
		s.left <- err
		return v, err
	}
	return s.MemoryStore.Update(ctx, scope, key, snap)
}

// A Meter dropped without Done is finished after it is collected, but not
// on the runtime's cleanup goroutine: a store that blocks there would hold
// up every cleanup in the process.
func TestDroppedMeterDoesNotBlockCleanups(t *testing.T) {
	store := newBlockingStore()
	c := newCtl()
	hs := newHarness(t, c.app, Options{Store: store})
	b := hs.browser()
	c.begin(t, b, "")
	c.do(t, func(r *request.Request) {
		m, err := Start(r, "leaky")
		require.NoError(t, err)
		m.Inc()
		// m is dropped here without Done.
	})
	var onCleanup bool
	require.Eventually(t, func() bool {
		runtime.GC()
		select {
		case onCleanup = <-store.entered:
			return true
		default:
			return false
		}
	}, 10*time.Second, 5*time.Millisecond, "the dropped meter was never finished")
	assert.False(t, onCleanup, "Store.Update ran on the runtime's cleanup goroutine")

	// While that Update blocks, other cleanups in the process still run.
	ran := make(chan struct{})
	func() {
		x := new([64]byte)
		runtime.AddCleanup(x, func(ch chan struct{}) { close(ch) }, ran)
	}()
	require.Eventually(t, func() bool {
		runtime.GC()
		select {
		case <-ran:
			return true
		default:
			return false
		}
	}, 10*time.Second, 5*time.Millisecond, "a blocked Store.Update held up the process's cleanups")

	close(store.release)
	require.Eventually(t, func() bool {
		s, code := b.status("leaky")
		return code == http.StatusOK && !s.InProgress && s.Count == 1
	}, 10*time.Second, 5*time.Millisecond)
	c.end(t)
}

// dropMeter starts the meter name in c's session and drops it without
// Done, then collects garbage until the store is asked to finish it.
func dropMeter(t *testing.T, c *ctl, store *blockingStore, name string) (onCleanup bool) {
	t.Helper()
	c.do(t, func(r *request.Request) {
		m, err := Start(r, name)
		require.NoError(t, err)
		m.Inc()
	})
	require.Eventually(t, func() bool {
		runtime.GC()
		select {
		case onCleanup = <-store.entered:
			return true
		default:
			return false
		}
	}, 10*time.Second, 5*time.Millisecond, "the dropped meter was never finished")
	return onCleanup
}

// Shutdown lets the finishing of dropped meters complete while its context
// lasts, then cancels it: the goroutine doing it is the Handler's.
func TestShutdownEndsTheFinishingOfDroppedMeters(t *testing.T) {
	store := newBlockingStore()
	c := newCtl()
	hs := newHarness(t, c.app, Options{Store: store})
	c.begin(t, hs.browser(), "")

	dropMeter(t, c, store, "graceful")
	done := make(chan error, 1)
	go func() { done <- hs.h.Shutdown(context.Background()) }()
	close(store.release)
	require.NoError(t, <-done)
	select {
	case err := <-store.left:
		require.NoError(t, err)
	default:
		t.Fatal("Shutdown returned before the finish it was waiting for")
	}

	// After Shutdown, a dropped meter's finish gets a context already done.
	store.release = make(chan struct{})
	dropMeter(t, c, store, "late")
	assert.ErrorIs(t, <-store.left, context.Canceled)

	// Shutdown with a context already done cancels a finish at once.
	store2 := newBlockingStore()
	c2 := newCtl()
	hs2 := newHarness(t, c2.app, Options{Store: store2})
	c2.begin(t, hs2.browser(), "")
	dropMeter(t, c2, store2, "cut")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, hs2.h.Shutdown(ctx), context.Canceled)
	assert.ErrorIs(t, <-store2.left, context.Canceled)
	c.end(t)
	c2.end(t)
}
