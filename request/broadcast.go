package request

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTopicCapacity is how many recent events a [Topic] keeps when
// [NewTopic] is given no capacity, and what the zero Topic keeps.
const DefaultTopicCapacity = 1024

// ErrBehind is returned by [Topic.Wait] and [Topic.Since] when the version
// a subscriber has seen is not in the topic's history: it is older than the
// oldest event still kept (the subscriber fell too far behind), or newer
// than the latest (a version from an earlier run of the server). Either
// way the subscriber has missed events it cannot get back; it should tell
// its user so and carry on from the version returned with the error, which
// is where the kept history starts.
var ErrBehind = errors.New("continuity: subscriber fell behind the topic's history")

// ErrInterrupted is returned by [Topic.Wait] when [Topic.Interrupt] woke
// it before any event was published: the waiter should answer now (for a
// long poll, with nothing new) so that its client asks again at once.
var ErrInterrupted = errors.New("continuity: wait interrupted")

// An Event is one value published on a [Topic], with its version.
type Event[T any] struct {
	Version uint64 // 1 for the first event of a topic, then 2, 3, …
	Value   T
}

// A Topic broadcasts events from any goroutine to any number of waiting
// session goroutines: the shared state of a chat room, a live feed, a set
// of long polls. Publishers append events, each numbered with the next
// version; a subscriber asks for the events after the version it has seen,
// waiting until there are some. The topic keeps a ring of the most recent
// events (its capacity), so memory is bounded and a subscriber that
// reconnects with the version it saw misses nothing, unless it fell so far
// behind that the ring moved past it: then it gets [ErrBehind], never a
// silent gap.
//
// Waiting costs no goroutine beyond the waiter's own: waiters block on a
// channel that each publish (or [Topic.Interrupt]) closes and replaces, so
// one publish wakes every waiter at once.
//
// The zero Topic is ready to use and keeps [DefaultTopicCapacity] events.
// A Topic must not be copied after first use. All methods are safe for
// concurrent use.
type Topic[T any] struct {
	mu         sync.RWMutex
	ring       []Event[T]    // event v is at ring[(v-1)%len(ring)]
	version    uint64        // of the latest event; 0 before the first
	wake       chan struct{} // closed and replaced on Publish and Interrupt
	interrupts uint64        // bumped by Interrupt
	size       int           // capacity asked of NewTopic; 0 means default
	waiters    atomic.Int64  // goroutines blocked in Wait
	// floor is the latest version known lost: no event at or before it
	// is kept. Only a transport loses events (see [TopicReceiver]); a
	// topic in memory keeps it 0.
	floor  uint64
	remote *remote[T] // set by NewTopicWith; nil for a topic in memory
}

// NewTopic returns a topic that keeps the last capacity events; a
// capacity of zero or less means [DefaultTopicCapacity].
func NewTopic[T any](capacity int) *Topic[T] {
	t := &Topic[T]{size: capacity}
	t.initLocked()
	return t
}

// initLocked allocates the ring and the first wake channel; t.mu must be
// held for writing (or t not yet shared).
func (t *Topic[T]) initLocked() {
	if t.wake != nil {
		return
	}
	n := t.size
	if n <= 0 {
		n = DefaultTopicCapacity
	}
	t.ring = make([]Event[T], n)
	t.wake = make(chan struct{})
}

// rlock read-locks t, initialising a zero Topic on first use.
func (t *Topic[T]) rlock() {
	t.mu.RLock()
	if t.wake == nil {
		t.mu.RUnlock()
		t.mu.Lock()
		t.initLocked()
		t.mu.Unlock()
		t.mu.RLock()
	}
}

// Publish appends v as the next event, wakes every waiter, and returns the
// event's version. It never blocks on subscribers: slow or vanished ones
// only fall behind.
//
// On a topic made by [NewTopicWith], Publish sends v through the
// transport, which numbers it, and returns once this process's topic has
// it; it returns 0 if v could not be published (use
// [Topic.PublishContext] to learn why).
func (t *Topic[T]) Publish(v T) uint64 {
	if t.remote != nil {
		ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
		defer cancel()
		ver, _ := t.remote.publish(ctx, v)
		return ver
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.initLocked()
	t.version++
	t.ring[(t.version-1)%uint64(len(t.ring))] = Event[T]{Version: t.version, Value: v}
	t.wakeLocked()
	return t.version
}

// Interrupt wakes every goroutine waiting in [Topic.Wait] now; those that
// have no new event return [ErrInterrupted]. Use it when what the waiters
// are waiting for has changed in a way the events do not show (Phoenix.Sync
// interrupts long polls whose query changed, so that clients pick up the
// change at once instead of when their poll times out). Waits that start
// after Interrupt are not affected.
//
// On a topic made by [NewTopicWith], Interrupt wakes this process's
// waiters at once and the other processes' through the transport, as
// [Topic.InterruptContext] does, ignoring its error.
func (t *Topic[T]) Interrupt() {
	if t.remote != nil {
		ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
		defer cancel()
		_ = t.InterruptContext(ctx)
		return
	}
	t.interruptLocal()
}

// interruptLocal interrupts this process's waiters.
func (t *Topic[T]) interruptLocal() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.initLocked()
	t.interrupts++
	t.wakeLocked()
}

func (t *Topic[T]) wakeLocked() {
	close(t.wake)
	t.wake = make(chan struct{})
}

// Version is the version of the latest event, 0 if none was published.
func (t *Topic[T]) Version() uint64 {
	t.rlock()
	defer t.mu.RUnlock()
	return t.version
}

// Waiters is the number of goroutines blocked in [Topic.Wait] now.
func (t *Topic[T]) Waiters() int { return int(t.waiters.Load()) }

// Since returns, without waiting, the events published after version
// since, oldest first, and the version to pass next time (the latest
// one's, or since itself if there are none). If since is not in the
// topic's history it returns [ErrBehind] and the version the kept history
// starts after: call Since again with it to read what is left.
func (t *Topic[T]) Since(since uint64) ([]Event[T], uint64, error) {
	t.rlock()
	defer t.mu.RUnlock()
	return t.sinceLocked(since)
}

// firstLocked is the version before the oldest event kept.
func (t *Topic[T]) firstLocked() uint64 {
	first := t.floor
	if n := uint64(len(t.ring)); t.version > n {
		first = max(first, t.version-n)
	}
	return first
}

func (t *Topic[T]) sinceLocked(since uint64) ([]Event[T], uint64, error) {
	first := t.firstLocked()
	if since < first || since > t.version {
		return nil, first, ErrBehind
	}
	if since == t.version {
		return nil, since, nil
	}
	evs := make([]Event[T], 0, t.version-since)
	for v := since + 1; v <= t.version; v++ {
		evs = append(evs, t.ring[(v-1)%uint64(len(t.ring))])
	}
	return evs, t.version, nil
}

// Recent returns the last n events the topic still keeps (all of them if n
// is zero or less), oldest first, and the latest version: what a page
// shows when it opens, before it waits for more from that version.
func (t *Topic[T]) Recent(n int) ([]Event[T], uint64) {
	t.rlock()
	defer t.mu.RUnlock()
	first := t.firstLocked()
	if n > 0 && t.version-first > uint64(n) {
		first = t.version - uint64(n)
	}
	evs, _, _ := t.sinceLocked(first)
	return evs, t.version
}

// Changed returns a channel that is closed once the topic has an event
// after version since, or is interrupted: at once if it already has one.
// It lets a session wait on a topic in a select, together with timers,
// other topics, [Request.Arrived] or a context; then it reads the events
// with [Topic.Since].
func (t *Topic[T]) Changed(since uint64) <-chan struct{} {
	t.rlock()
	defer t.mu.RUnlock()
	if since != t.version {
		return closedChan
	}
	return t.wake
}

// closedChan is a channel that is always closed.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Wait returns the events published after version since, oldest first,
// and the version to pass next time; if there are none yet it waits until
// there are, until timeout passes (zero or less: no timeout), until ctx is
// done, or until [Topic.Interrupt] is called, whichever comes first.
//
// It returns no events and since itself, with a nil error when the timeout
// passed, with [ErrInterrupted] when interrupted, and with ctx's error when
// ctx is done. It returns [ErrBehind] as [Topic.Since] does. In a session,
// pass [Request.RequestContext] as ctx, so that a client that goes away, or
// a session that ends, frees the waiter at once.
func (t *Topic[T]) Wait(ctx context.Context, since uint64, timeout time.Duration) ([]Event[T], uint64, error) {
	var deadline <-chan time.Time
	t.rlock()
	gen := t.interrupts
	for {
		evs, next, err := t.sinceLocked(since)
		switch {
		case err != nil || len(evs) > 0:
			t.mu.RUnlock()
			return evs, next, err
		case t.interrupts != gen:
			t.mu.RUnlock()
			return nil, since, ErrInterrupted
		}
		wake := t.wake
		t.mu.RUnlock()

		if err := ctx.Err(); err != nil {
			return nil, since, err
		}
		if deadline == nil && timeout > 0 {
			timer := time.NewTimer(timeout)
			defer timer.Stop()
			deadline = timer.C
		}
		t.waiters.Add(1)
		select {
		case <-wake:
			t.waiters.Add(-1)
		case <-deadline:
			t.waiters.Add(-1)
			return nil, since, nil
		case <-ctx.Done():
			t.waiters.Add(-1)
			return nil, since, ctx.Err()
		}
		t.rlock()
	}
}
