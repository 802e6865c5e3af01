package request

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func values[T any](evs []Event[T]) []T {
	out := make([]T, len(evs))
	for i, e := range evs {
		out[i] = e.Value
	}
	return out
}

func versions[T any](evs []Event[T]) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Version
	}
	return out
}

// waitFor polls cond until it holds or a second has passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 2*time.Second, time.Millisecond, what)
}

func TestTopicPublishAndSince(t *testing.T) {
	var tp Topic[string] // the zero Topic is ready to use
	assert.Equal(t, uint64(0), tp.Version())
	evs, next, err := tp.Since(0)
	require.NoError(t, err)
	assert.Empty(t, evs)
	assert.Equal(t, uint64(0), next)

	assert.Equal(t, uint64(1), tp.Publish("a"))
	assert.Equal(t, uint64(2), tp.Publish("b"))
	assert.Equal(t, uint64(3), tp.Publish("c"))

	evs, next, err = tp.Since(0)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, values(evs))
	assert.Equal(t, []uint64{1, 2, 3}, versions(evs))
	assert.Equal(t, uint64(3), next)

	evs, next, err = tp.Since(2)
	require.NoError(t, err)
	assert.Equal(t, []string{"c"}, values(evs))
	assert.Equal(t, uint64(3), next)

	evs, next, err = tp.Since(3)
	require.NoError(t, err)
	assert.Empty(t, evs)
	assert.Equal(t, uint64(3), next)
}

func TestTopicRingTellsSubscribersThatFellBehind(t *testing.T) {
	tp := NewTopic[int](4)
	for i := 1; i <= 10; i++ {
		tp.Publish(i * 10)
	}
	// Versions 7..10 are kept.
	tests := []struct {
		since    uint64
		want     []int
		next     uint64
		wantErr  error
		scenario string
	}{
		{0, nil, 6, ErrBehind, "from the start: most is gone"},
		{5, nil, 6, ErrBehind, "one event too far behind"},
		{6, []int{70, 80, 90, 100}, 10, nil, "just in time"},
		{9, []int{100}, 10, nil, "one new event"},
		{10, nil, 10, nil, "up to date"},
		{11, nil, 6, ErrBehind, "a version from the future (an earlier run)"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			evs, next, err := tp.Since(tt.since)
			assert.ErrorIs(t, err, tt.wantErr)
			if tt.wantErr == nil {
				assert.NoError(t, err)
			}
			if tt.want == nil {
				assert.Empty(t, evs)
			} else {
				assert.Equal(t, tt.want, values(evs))
			}
			assert.Equal(t, tt.next, next)

			evs, next, err = tp.Wait(context.Background(), tt.since, time.Nanosecond)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.next, next)
			assert.Len(t, evs, len(tt.want))
		})
	}

	// After ErrBehind, the version returned reads what is left.
	_, next, err := tp.Since(0)
	require.ErrorIs(t, err, ErrBehind)
	evs, _, err := tp.Since(next)
	require.NoError(t, err)
	assert.Equal(t, []int{70, 80, 90, 100}, values(evs))
}

func TestTopicDefaultCapacity(t *testing.T) {
	var tp Topic[int]
	for i := 1; i <= 1500; i++ {
		tp.Publish(i)
	}
	evs, last := tp.Recent(0)
	assert.Equal(t, uint64(1500), last)
	require.Len(t, evs, DefaultTopicCapacity)
	assert.GreaterOrEqual(t, DefaultTopicCapacity, 1000)
	assert.Equal(t, 1500-DefaultTopicCapacity+1, evs[0].Value)
	assert.Equal(t, 1500, evs[len(evs)-1].Value)

	evs, last = tp.Recent(3)
	assert.Equal(t, []int{1498, 1499, 1500}, values(evs))
	assert.Equal(t, uint64(1500), last)

	small := NewTopic[int](0)
	small.Publish(1)
	evs, _ = small.Recent(10)
	assert.Equal(t, []int{1}, values(evs))
}

func TestTopicWait(t *testing.T) {
	tp := NewTopic[string](16)
	ctx := context.Background()

	t.Run("returns at once when events are there", func(t *testing.T) {
		tp.Publish("x")
		evs, next, err := tp.Wait(ctx, 0, time.Hour)
		require.NoError(t, err)
		assert.Equal(t, []string{"x"}, values(evs))
		assert.Equal(t, uint64(1), next)
	})

	t.Run("times out with nothing", func(t *testing.T) {
		start := time.Now()
		evs, next, err := tp.Wait(ctx, 1, 20*time.Millisecond)
		require.NoError(t, err)
		assert.Empty(t, evs)
		assert.Equal(t, uint64(1), next)
		assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
		assert.Equal(t, 0, tp.Waiters())
	})

	t.Run("wakes on publish", func(t *testing.T) {
		got := make(chan []string, 1)
		go func() {
			evs, _, _ := tp.Wait(ctx, 1, 0) // no timeout
			got <- values(evs)
		}()
		waitFor(t, "the waiter waits", func() bool { return tp.Waiters() == 1 })
		tp.Publish("y")
		select {
		case v := <-got:
			assert.Equal(t, []string{"y"}, v)
		case <-time.After(time.Second):
			t.Fatal("the waiter was not woken")
		}
		assert.Equal(t, 0, tp.Waiters())
	})

	t.Run("stops when the context is done", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, _, err := tp.Wait(cctx, tp.Version(), time.Hour)
			errc <- err
		}()
		waitFor(t, "the waiter waits", func() bool { return tp.Waiters() == 1 })
		cancel()
		assert.ErrorIs(t, <-errc, context.Canceled)
		assert.Equal(t, 0, tp.Waiters())

		_, _, err := tp.Wait(cctx, tp.Version(), time.Hour)
		assert.ErrorIs(t, err, context.Canceled, "a done context does not wait at all")
	})

	t.Run("falls behind while waiting", func(t *testing.T) {
		small := NewTopic[int](2)
		errc := make(chan error, 1)
		go func() {
			_, _, err := small.Wait(ctx, 0, time.Hour)
			errc <- err
		}()
		waitFor(t, "the waiter waits", func() bool { return small.Waiters() == 1 })
		// Five events land before the waiter can look: hold the lock for
		// all of them, as a burst of publishers would.
		small.mu.Lock()
		for i := 1; i <= 5; i++ {
			small.version++
			small.ring[(small.version-1)%2] = Event[int]{small.version, i}
			small.wakeLocked()
		}
		small.mu.Unlock()
		assert.ErrorIs(t, <-errc, ErrBehind)
	})
}

func TestTopicInterruptWakesEveryWaiter(t *testing.T) {
	tp := NewTopic[int](8)
	tp.Publish(1)
	const n = 50
	errs := make(chan error, n)
	for range n {
		go func() {
			_, next, err := tp.Wait(context.Background(), 1, time.Hour)
			if next != 1 {
				err = fmt.Errorf("next = %d, want 1", next)
			}
			errs <- err
		}()
	}
	waitFor(t, "every waiter waits", func() bool { return tp.Waiters() == n })
	tp.Interrupt()
	deadline := time.After(time.Second)
	for range n {
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, ErrInterrupted)
		case <-deadline:
			t.Fatal("not every waiter was woken")
		}
	}

	// A wait that starts after the interrupt is not affected; an event
	// published after it is delivered, not reported as an interrupt.
	done := make(chan []int, 1)
	go func() {
		evs, _, err := tp.Wait(context.Background(), 1, time.Hour)
		assert.NoError(t, err)
		done <- values(evs)
	}()
	waitFor(t, "the new waiter waits", func() bool { return tp.Waiters() == 1 })
	tp.Publish(2)
	assert.Equal(t, []int{2}, <-done)
}

func TestTopicChanged(t *testing.T) {
	tp := NewTopic[int](8)
	ch := tp.Changed(0)
	select {
	case <-ch:
		t.Fatal("closed before any change")
	default:
	}
	tp.Publish(1)
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatal("not closed by a publish")
	}
	select {
	case <-tp.Changed(0):
	default:
		t.Fatal("not closed at once for a version already behind")
	}
	ch = tp.Changed(1)
	tp.Interrupt()
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatal("not closed by an interrupt")
	}
}

// TestTopicConcurrentSubscribersSeeEveryEventInOrder runs publishers and
// subscribers together (go test -race): every subscriber sees every
// version once, in order.
func TestTopicConcurrentSubscribersSeeEveryEventInOrder(t *testing.T) {
	const publishers, perPublisher, subscribers = 4, 250, 16
	const total = publishers * perPublisher
	tp := NewTopic[int](total) // big enough that nobody falls behind
	ctx := context.Background()

	var wg sync.WaitGroup
	results := make([][]uint64, subscribers)
	for i := range subscribers {
		wg.Go(func() {
			var since uint64
			for since < total {
				evs, next, err := tp.Wait(ctx, since, time.Second)
				if errors.Is(err, ErrInterrupted) {
					continue
				}
				if err != nil {
					t.Errorf("subscriber %d: %v", i, err)
					return
				}
				results[i] = append(results[i], versions(evs)...)
				since = next
			}
		})
	}
	var pub sync.WaitGroup
	for range publishers {
		pub.Go(func() {
			for j := range perPublisher {
				tp.Publish(j)
				if j%50 == 0 {
					tp.Interrupt() // interrupts only make waiters look again
					runtime.Gosched()
				}
			}
		})
	}
	pub.Wait()
	wg.Wait()
	for i, got := range results {
		require.Len(t, got, total, "subscriber %d", i)
		for j, v := range got {
			if v != uint64(j+1) {
				t.Fatalf("subscriber %d: event %d has version %d", i, j, v)
			}
		}
	}
}

// TestTopicWaitNeedsNoGoroutine checks that waiting costs no goroutine of
// the topic's own: n waiters are n goroutines, theirs.
func TestTopicWaitNeedsNoGoroutine(t *testing.T) {
	tp := NewTopic[int](8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := runtime.NumGoroutine()
	const n = 200
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, _, err := tp.Wait(ctx, 0, time.Hour)
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
		})
	}
	waitFor(t, "every waiter waits", func() bool { return tp.Waiters() == n })
	// A little slack for goroutines of earlier tests still finishing.
	assert.LessOrEqual(t, runtime.NumGoroutine()-before, n+5)
	tp.Publish(1)
	wg.Wait()
	assert.Equal(t, 0, tp.Waiters())
}
