package request

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// remoteTimeout bounds the transport call of [Topic.Publish] and
// [Topic.Interrupt], which return no error; the Context variants take the
// caller's context instead.
const remoteTimeout = 10 * time.Second

// ErrTopicClosed is returned by [Topic.PublishContext] and
// [Topic.InterruptContext] after [Topic.Close] of a topic made by
// [NewTopicWith].
var ErrTopicClosed = errors.New("continuity: topic closed")

// A TopicTransport carries the events of one topic between processes, so
// that the [Topic] that each process (each node of a deployment) makes
// with [NewTopicWith] over it is the same topic: an event published on one
// node reaches the waiters of every node, with the same version
// everywhere, and so does an interrupt. The transport numbers the events:
// 1 for the first, then 2, 3, … across all nodes, so that a version a
// client got from one node means the same on another. Package redistore
// implements it over Redis.
type TopicTransport interface {
	// Publish appends data, one encoded event, as the topic's next event
	// on every node, and returns the version it assigned. It returns once
	// this process's receiver has been given the event (so that a read
	// right after Publish sees it), or with an error; a version other than
	// 0 with an error means the event was published but may not have been
	// received here yet.
	Publish(ctx context.Context, data []byte) (uint64, error)
	// Interrupt interrupts the topic's waiters on the other processes
	// (the calling Topic interrupts its own).
	Interrupt(ctx context.Context) error
	// Subscribe starts giving r the topic's events: first the latest ones,
	// up to backlog of them, then every new one, and the other processes'
	// interrupts, from goroutines of the transport's, one call at a time,
	// in version order, until stop is called. stop waits until no call is
	// running or will be made. A transport that was already subscribed
	// returns an error. It may return before the transport has reached its
	// store; it keeps trying, and gives r what it missed when it does.
	Subscribe(backlog int, r TopicReceiver) (stop func(), err error)
}

// A TopicReceiver is the side of a [Topic] that its [TopicTransport]
// feeds. Its methods are called one at a time, never concurrently.
type TopicReceiver interface {
	// Receive gives events, in increasing version order. Events at or
	// before a version already received are ignored. A gap between
	// versions means the events in it are lost (the transport's store no
	// longer had them); waiters from before the gap then get [ErrBehind].
	Receive(evs []EncodedEvent)
	// Interrupt interrupts the waiters, as [Topic.Interrupt] does.
	Interrupt()
	// Reset forgets every event received: the transport's versions start
	// over (its store lost the topic). Waiters from a version the topic no
	// longer has get [ErrBehind].
	Reset()
}

// An EncodedEvent is an event as a [TopicTransport] carries it.
type EncodedEvent struct {
	Version uint64
	Data    []byte
}

// A Codec turns a topic's values into bytes for a [TopicTransport] and
// back. Both functions must be set; the zero Codec given to [NewTopicWith]
// means [JSONCodec].
type Codec[T any] struct {
	Encode func(T) ([]byte, error)
	Decode func([]byte) (T, error)
}

// JSONCodec encodes values with encoding/json.
func JSONCodec[T any]() Codec[T] {
	return Codec[T]{
		Encode: func(v T) ([]byte, error) { return json.Marshal(v) },
		Decode: func(b []byte) (T, error) {
			var v T
			err := json.Unmarshal(b, &v)
			return v, err
		},
	}
}

// remote is what a Topic made by NewTopicWith adds to one in memory.
type remote[T any] struct {
	tr     TopicTransport
	codec  Codec[T]
	stop   func()
	closed atomic.Bool
	once   sync.Once
}

// NewTopicWith returns a topic, keeping the last capacity events (zero or
// less: [DefaultTopicCapacity]), whose events travel through tr, encoded
// with codec (the zero Codec: [JSONCodec]): a Topic of the same name on
// every node of a deployment, over the same store, is one topic. Reads
// ([Topic.Since], [Topic.Wait], [Topic.Recent], [Topic.Changed]) are
// answered from the events this process has received, without a network
// call; [Topic.Publish] and [Topic.Interrupt] go through tr. An event
// that this process cannot decode is lost to it, as if the transport had
// dropped it (waiters from before it get [ErrBehind]).
//
// The topic receives from tr on the transport's goroutines until
// [Topic.Close], which its owner must call.
func NewTopicWith[T any](capacity int, tr TopicTransport, codec Codec[T]) (*Topic[T], error) {
	if tr == nil {
		return nil, errors.New("continuity: NewTopicWith: nil transport")
	}
	switch {
	case codec.Encode == nil && codec.Decode == nil:
		codec = JSONCodec[T]()
	case codec.Encode == nil || codec.Decode == nil:
		return nil, errors.New("continuity: NewTopicWith: a Codec needs both Encode and Decode")
	}
	t := NewTopic[T](capacity)
	t.remote = &remote[T]{tr: tr, codec: codec}
	stop, err := tr.Subscribe(len(t.ring), receiver[T]{t})
	if err != nil {
		return nil, err
	}
	t.remote.stop = stop
	return t, nil
}

// PublishContext is [Topic.Publish] with a context for the transport of a
// topic made by [NewTopicWith], and the error: the codec's, the
// transport's, or [ErrTopicClosed]. On a topic in memory it never fails.
func (t *Topic[T]) PublishContext(ctx context.Context, v T) (uint64, error) {
	if t.remote == nil {
		return t.Publish(v), nil
	}
	return t.remote.publish(ctx, v)
}

func (r *remote[T]) publish(ctx context.Context, v T) (uint64, error) {
	if r.closed.Load() {
		return 0, ErrTopicClosed
	}
	data, err := r.codec.Encode(v)
	if err != nil {
		return 0, err
	}
	return r.tr.Publish(ctx, data)
}

// InterruptContext is [Topic.Interrupt] with a context for the transport
// of a topic made by [NewTopicWith], and its error (or [ErrTopicClosed]):
// it interrupts this process's waiters at once, then the other
// processes'. On a topic in memory it never fails.
func (t *Topic[T]) InterruptContext(ctx context.Context) error {
	t.interruptLocal()
	if t.remote == nil {
		return nil
	}
	if t.remote.closed.Load() {
		return ErrTopicClosed
	}
	return t.remote.tr.Interrupt(ctx)
}

// Close ends the subscription of a topic made by [NewTopicWith]: the
// transport's goroutines stop, and Close returns once they have. Waiters
// are interrupted; reads go on answering from the events received, and
// publishing fails with [ErrTopicClosed]. Close is idempotent, and does
// nothing on a topic in memory.
func (t *Topic[T]) Close() error {
	if t.remote == nil {
		return nil
	}
	t.remote.once.Do(func() {
		t.remote.closed.Store(true)
		t.remote.stop()
		t.interruptLocal()
	})
	return nil
}

// receiver is a Topic's [TopicReceiver]. It is a type of its own so that
// Topic's methods are only the applications'.
type receiver[T any] struct{ t *Topic[T] }

func (r receiver[T]) Receive(evs []EncodedEvent) {
	type decoded struct {
		ev Event[T]
		ok bool
	}
	out := make([]decoded, len(evs))
	for i, e := range evs {
		v, err := r.t.remote.codec.Decode(e.Data)
		out[i] = decoded{Event[T]{Version: e.Version, Value: v}, err == nil}
	}
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := false
	for _, d := range out {
		v := d.ev.Version
		if v <= t.version {
			continue
		}
		changed = true
		if v != t.version+1 {
			t.floor = v - 1 // the events in between are lost
		}
		t.version = v
		if !d.ok {
			t.floor = v
			d.ev = Event[T]{} // drop whatever the slot held
		}
		t.ring[(v-1)%uint64(len(t.ring))] = d.ev
	}
	if changed {
		t.wakeLocked()
	}
}

func (r receiver[T]) Interrupt() { r.t.interruptLocal() }

func (r receiver[T]) Reset() {
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.ring)
	t.version, t.floor = 0, 0
	t.wakeLocked()
}
