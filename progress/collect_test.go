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
}

func newBlockingStore() *blockingStore {
	return &blockingStore{
		MemoryStore: NewMemoryStore(MemoryOptions{}),
		entered:     make(chan bool, 1),
		release:     make(chan struct{}),
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
			return 0, ctx.Err()
		}
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
