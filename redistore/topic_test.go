package redistore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/redistore"
	"github.com/continuity-go/continuity/request"
)

type chatMessage struct {
	From, Text string
}

// topic is a node's topic of that name, on a client of its own, closed
// (before its client) when the test ends.
func topic[T any](e *env, name string, capacity int, o redistore.TopicOptions) *request.Topic[T] {
	tp, err := redistore.NewTopic(e.client(), name, capacity, request.Codec[T]{}, o)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { require.NoError(e.t, tp.Close()) })
	return tp
}

// wait runs tp.Wait in the background and returns its result's channel,
// once the waiter is blocked.
type waitResult[T any] struct {
	evs  []request.Event[T]
	next uint64
	err  error
}

func waitOn[T any](t *testing.T, tp *request.Topic[T], since uint64) <-chan waitResult[T] {
	ch := make(chan waitResult[T], 1)
	before := tp.Waiters()
	go func() {
		evs, next, err := tp.Wait(context.Background(), since, time.Minute)
		ch <- waitResult[T]{evs, next, err}
	}()
	eventually(t, "waiting", func() bool { return tp.Waiters() > before })
	return ch
}

func TestTopicChatAcrossNodes(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := topic[chatMessage](e, "room", 0, redistore.TopicOptions{PollInterval: noPoll})
	b := topic[chatMessage](e, "room", 0, redistore.TopicOptions{PollInterval: noPoll})

	waitB := waitOn(t, b, 0)
	v, err := a.PublishContext(ctx(t), chatMessage{"ann", "hello from A"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), v)
	r := <-waitB
	require.NoError(t, r.err)
	assert.Equal(t, []request.Event[chatMessage]{{Version: 1, Value: chatMessage{"ann", "hello from A"}}}, r.evs)
	assert.Equal(t, uint64(1), r.next)
	// The publisher's own topic has the event when Publish returns.
	evs, _, err := a.Since(0)
	require.NoError(t, err)
	assert.Len(t, evs, 1)

	waitA := waitOn(t, a, 1)
	assert.Equal(t, uint64(2), b.Publish(chatMessage{"bob", "hi from B"}))
	ra := <-waitA
	require.NoError(t, ra.err)
	assert.Equal(t, []request.Event[chatMessage]{{Version: 2, Value: chatMessage{"bob", "hi from B"}}}, ra.evs)

	// Many publishers on both nodes: every node ends with the same events
	// in the same order.
	const n = 50
	done := make(chan struct{})
	for _, tp := range []*request.Topic[chatMessage]{a, b} {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range n {
				_, err := tp.PublishContext(context.Background(), chatMessage{"x", fmt.Sprint(i)})
				assert.NoError(t, err)
			}
		}()
	}
	<-done
	<-done
	eventually(t, "both have all", func() bool { return a.Version() == 2+2*n && b.Version() == 2+2*n })
	ea, _, err := a.Since(0)
	require.NoError(t, err)
	eb, _, err := b.Since(0)
	require.NoError(t, err)
	assert.Equal(t, ea, eb)
}

func TestTopicInterruptReachesEveryNode(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := topic[string](e, "t", 0, redistore.TopicOptions{PollInterval: noPoll})
	b := topic[string](e, "t", 0, redistore.TopicOptions{PollInterval: noPoll})
	c := topic[string](e, "t", 0, redistore.TopicOptions{PollInterval: noPoll})
	wa, wb, wc := waitOn(t, a, 0), waitOn(t, b, 0), waitOn(t, c, 0)
	require.NoError(t, b.InterruptContext(ctx(t)))
	for _, w := range []<-chan waitResult[string]{wa, wb, wc} {
		r := <-w
		require.ErrorIs(t, r.err, request.ErrInterrupted)
	}
	// A waiter that starts afterwards is not interrupted.
	w := waitOn(t, a, 0)
	b.Publish("after")
	r := <-w
	require.NoError(t, r.err)
	assert.Equal(t, uint64(1), r.next)
}

func TestTopicNewNodeGetsTheBacklog(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := topic[string](e, "t", 0, redistore.TopicOptions{})
	for i := 1; i <= 10; i++ {
		require.Equal(t, uint64(i), a.Publish(fmt.Sprint(i)))
	}
	late := topic[string](e, "t", 4, redistore.TopicOptions{})
	evs, v := late.Recent(0)
	assert.Equal(t, uint64(10), v)
	require.Len(t, evs, 4)
	assert.Equal(t, "7", evs[0].Value)
	_, first, err := late.Since(1)
	require.ErrorIs(t, err, request.ErrBehind)
	assert.Equal(t, uint64(6), first)
}

func TestTopicSurvivesRedisRestart(t *testing.T) {
	e := newEnv(t, redistest.Options{AppendOnly: true, AppendFsync: "always"})
	a := topic[string](e, "t", 0, redistore.TopicOptions{PollInterval: noPoll})
	b := topic[string](e, "t", 0, redistore.TopicOptions{PollInterval: noPoll})
	a.Publish("before")
	eventually(t, "b has it", func() bool { return b.Version() == 1 })
	w := waitOn(t, b, 1)
	e.srv.Restart()
	v, err := a.PublishContext(ctx(t), "after")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), v)
	r := <-w
	require.NoError(t, r.err)
	assert.Equal(t, []request.Event[string]{{Version: 2, Value: "after"}}, r.evs)
}

// TestTopicStartsOverWhenRedisLosesIt: an in-memory Redis restarts empty;
// the nodes' topics start over with it, and a waiter from before learns
// that it missed events.
func TestTopicStartsOverWhenRedisLosesIt(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := topic[string](e, "t", 0, redistore.TopicOptions{PollInterval: noPoll})
	b := topic[string](e, "t", 0, redistore.TopicOptions{PollInterval: noPoll})
	for range 3 {
		a.Publish("old")
	}
	eventually(t, "b has them", func() bool { return b.Version() == 3 })
	w := waitOn(t, b, 3)
	e.srv.Restart()
	v, err := a.PublishContext(ctx(t), "new")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), v)
	r := <-w
	require.ErrorIs(t, r.err, request.ErrBehind)
	eventually(t, "b starts over", func() bool { return b.Version() == 1 })
	evs, _, err := b.Since(0)
	require.NoError(t, err)
	assert.Equal(t, []request.Event[string]{{Version: 1, Value: "new"}}, evs)
	evs, _, err = a.Since(0)
	require.NoError(t, err)
	assert.Equal(t, []request.Event[string]{{Version: 1, Value: "new"}}, evs)
}

func TestTopicBounds(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	rc := e.client()
	a := topic[string](e, "t", 8, redistore.TopicOptions{MaxLen: 10, MaxEventBytes: 100})
	_, err := a.PublishContext(ctx(t), strings.Repeat("x", 200))
	require.ErrorIs(t, err, redistore.ErrEventTooBig)
	for range 500 {
		a.Publish("x")
	}
	n, err := rc.XLen(ctx(t), "continuity:topic:{t}").Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, n, int64(10+100), "Redis trims the stream by whole blocks")
	assert.Equal(t, uint64(500), a.Version())

	for _, name := range []string{"", "a{b}", strings.Repeat("n", 257)} {
		_, err := redistore.NewTopicTransport(rc, name, redistore.TopicOptions{})
		require.Error(t, err, name)
	}
	_, err = redistore.NewTopicTransport(rc, "t", redistore.TopicOptions{Prefix: "{x}"})
	require.Error(t, err)
	_, err = redistore.NewTopicTransport(nil, "t", redistore.TopicOptions{})
	require.Error(t, err)
}

func TestTopicCloseStopsTheSubscription(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	tr, err := redistore.NewTopicTransport(e.client(), "t", redistore.TopicOptions{})
	require.NoError(t, err)
	tp, err := request.NewTopicWith(0, tr, request.JSONCodec[int]())
	require.NoError(t, err)
	_, err = request.NewTopicWith(0, tr, request.JSONCodec[int]())
	require.Error(t, err, "one subscriber per transport")
	w := waitOn(t, tp, 0)
	require.NoError(t, tp.Close())
	require.ErrorIs(t, (<-w).err, request.ErrInterrupted)
	_, err = tp.PublishContext(ctx(t), 1)
	require.ErrorIs(t, err, request.ErrTopicClosed)
	// goleak (TestMain) checks that the subscriber goroutine is gone.
}
