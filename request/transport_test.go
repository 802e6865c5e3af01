package request

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hub is a TopicTransport in memory shared by several topics, as a store
// shared by several nodes would be: it numbers events and hands each to
// every subscriber, in order, under its lock.
type hub struct {
	mu    sync.Mutex
	log   []EncodedEvent
	subs  map[*hubConn]bool
	fails error // returned by Publish when set
}

type hubConn struct {
	h   *hub
	r   TopicReceiver
	sub bool
}

func newHub() *hub { return &hub{subs: map[*hubConn]bool{}} }

func (h *hub) conn() *hubConn { return &hubConn{h: h} }

func (c *hubConn) Publish(_ context.Context, data []byte) (uint64, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	if c.h.fails != nil {
		return 0, c.h.fails
	}
	ev := EncodedEvent{Version: uint64(len(c.h.log) + 1), Data: data}
	c.h.log = append(c.h.log, ev)
	for s := range c.h.subs {
		s.r.Receive([]EncodedEvent{ev})
	}
	return ev.Version, nil
}

func (c *hubConn) Interrupt(context.Context) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	for s := range c.h.subs {
		if s != c {
			s.r.Interrupt()
		}
	}
	return nil
}

func (c *hubConn) Subscribe(backlog int, r TopicReceiver) (func(), error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	if c.sub {
		return nil, errors.New("already subscribed")
	}
	c.sub, c.r = true, r
	c.h.subs[c] = true
	if n := len(c.h.log); n > 0 {
		r.Receive(c.h.log[max(0, n-backlog):])
	}
	return func() {
		c.h.mu.Lock()
		defer c.h.mu.Unlock()
		delete(c.h.subs, c)
	}, nil
}

func twoNodes(t *testing.T, capacity int) (*hub, *Topic[string], *Topic[string]) {
	h := newHub()
	a, err := NewTopicWith(capacity, h.conn(), Codec[string]{})
	require.NoError(t, err)
	b, err := NewTopicWith(capacity, h.conn(), Codec[string]{})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, a.Close())
		assert.NoError(t, b.Close())
	})
	return h, a, b
}

func TestTopicWithTransportSharesEventsAndVersions(t *testing.T) {
	_, a, b := twoNodes(t, 0)
	got := make(chan []Event[string], 1)
	go func() {
		evs, _, err := b.Wait(context.Background(), 0, 0)
		assert.NoError(t, err)
		got <- evs
	}()
	waitFor(t, "b waits", func() bool { return b.Waiters() == 1 })
	v, err := a.PublishContext(context.Background(), "hello")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), v)
	evs := <-got
	assert.Equal(t, []Event[string]{{Version: 1, Value: "hello"}}, evs)

	assert.Equal(t, uint64(2), b.Publish("from b"))
	evs, next, err := a.Since(0)
	require.NoError(t, err)
	assert.Equal(t, []string{"hello", "from b"}, values(evs))
	assert.Equal(t, uint64(2), next)
}

func TestTopicWithTransportInterruptCrosses(t *testing.T) {
	_, a, b := twoNodes(t, 0)
	errs := make(chan error, 2)
	for _, tp := range []*Topic[string]{a, b} {
		go func() {
			_, _, err := tp.Wait(context.Background(), 0, 0)
			errs <- err
		}()
	}
	waitFor(t, "both wait", func() bool { return a.Waiters() == 1 && b.Waiters() == 1 })
	require.NoError(t, a.InterruptContext(context.Background()))
	require.ErrorIs(t, <-errs, ErrInterrupted)
	require.ErrorIs(t, <-errs, ErrInterrupted)
}

func TestTopicWithTransportBacklogAndGaps(t *testing.T) {
	h := newHub()
	pub, err := NewTopicWith(0, h.conn(), Codec[string]{})
	require.NoError(t, err)
	defer pub.Close()
	for i := range 10 {
		require.Equal(t, uint64(i+1), pub.Publish(strconv.Itoa(i+1)))
	}
	// A node that joins now gets the latest 4 (its capacity): a client
	// from before them has fallen behind.
	late, err := NewTopicWith(4, h.conn(), Codec[string]{})
	require.NoError(t, err)
	defer late.Close()
	evs, v := late.Recent(0)
	assert.Equal(t, []string{"7", "8", "9", "10"}, values(evs))
	assert.Equal(t, uint64(10), v)
	_, first, err := late.Since(2)
	require.ErrorIs(t, err, ErrBehind)
	assert.Equal(t, uint64(6), first)

	// A gap in what the transport delivers loses the events in it.
	rcv := receiver[string]{late}
	rcv.Receive([]EncodedEvent{{Version: 13, Data: []byte(`"13"`)}})
	_, first, err = late.Since(10)
	require.ErrorIs(t, err, ErrBehind)
	assert.Equal(t, uint64(12), first)
	evs, _, err = late.Since(12)
	require.NoError(t, err)
	assert.Equal(t, []string{"13"}, values(evs))

	// An event that does not decode is lost too, but the version moves on.
	rcv.Receive([]EncodedEvent{{Version: 14, Data: []byte(`not json`)}, {Version: 15, Data: []byte(`"15"`)}})
	assert.Equal(t, uint64(15), late.Version())
	_, _, err = late.Since(13)
	require.ErrorIs(t, err, ErrBehind)
	evs, _, err = late.Since(14)
	require.NoError(t, err)
	assert.Equal(t, []Event[string]{{Version: 15, Value: "15"}}, evs)

	// Old versions are ignored.
	rcv.Receive([]EncodedEvent{{Version: 15, Data: []byte(`"again"`)}})
	evs, _, _ = late.Since(14)
	assert.Equal(t, []string{"15"}, values(evs))
}

func TestTopicWithTransportResetStartsOver(t *testing.T) {
	_, a, _ := twoNodes(t, 0)
	a.Publish("x")
	a.Publish("y")
	errc := make(chan error, 1)
	go func() {
		_, _, err := a.Wait(context.Background(), 2, 0)
		errc <- err
	}()
	waitFor(t, "a waits", func() bool { return a.Waiters() == 1 })
	receiver[string]{a}.Reset()
	require.ErrorIs(t, <-errc, ErrBehind, "a waiter from before the reset is told it missed events")
	assert.Equal(t, uint64(0), a.Version())
	receiver[string]{a}.Receive([]EncodedEvent{{Version: 1, Data: []byte(`"new"`)}})
	evs, _, err := a.Since(0)
	require.NoError(t, err)
	assert.Equal(t, []string{"new"}, values(evs))
}

func TestTopicWithTransportErrorsAndClose(t *testing.T) {
	_, err := NewTopicWith[string](0, nil, Codec[string]{})
	require.Error(t, err)
	h := newHub()
	_, err = NewTopicWith(0, h.conn(), Codec[string]{Encode: func(string) ([]byte, error) { return nil, nil }})
	require.ErrorContains(t, err, "both Encode and Decode")
	c := h.conn()
	a, err := NewTopicWith(0, c, Codec[string]{})
	require.NoError(t, err)
	_, err = NewTopicWith(0, c, Codec[string]{})
	require.Error(t, err, "a transport has one subscriber")

	bad := errors.New("store down")
	h.mu.Lock()
	h.fails = bad
	h.mu.Unlock()
	v, err := a.PublishContext(context.Background(), "x")
	require.ErrorIs(t, err, bad)
	assert.Zero(t, v)
	assert.Zero(t, a.Publish("x"))
	h.mu.Lock()
	h.fails = nil
	h.mu.Unlock()

	type odd struct{ C chan int }
	o, err := NewTopicWith(0, h.conn(), Codec[odd]{})
	require.NoError(t, err)
	_, err = o.PublishContext(context.Background(), odd{C: make(chan int)})
	require.Error(t, err, "the codec's error")
	require.NoError(t, o.Close())

	errc := make(chan error, 1)
	go func() {
		_, _, err := a.Wait(context.Background(), 0, time.Minute)
		errc <- err
	}()
	waitFor(t, "a waits", func() bool { return a.Waiters() == 1 })
	require.NoError(t, a.Close())
	require.ErrorIs(t, <-errc, ErrInterrupted, "Close frees the waiters")
	require.NoError(t, a.Close())
	_, err = a.PublishContext(context.Background(), "x")
	require.ErrorIs(t, err, ErrTopicClosed)
	require.ErrorIs(t, a.InterruptContext(context.Background()), ErrTopicClosed)
	h.mu.Lock()
	assert.Empty(t, h.subs)
	h.mu.Unlock()

	var mem Topic[int]
	require.NoError(t, mem.Close(), "Close does nothing in memory")
	v, err = mem.PublishContext(context.Background(), 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), v)
	require.NoError(t, mem.InterruptContext(context.Background()))
}
