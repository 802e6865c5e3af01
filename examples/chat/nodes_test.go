package main

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/webtest"
	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/redistore"
)

// announce is the pub/sub channel of the chat's topic.
const announce = "continuity:topic:{chat}:announce"

// serveNode serves a node of a chat in the Redis at rs: its room is the
// topic "chat" there, as main makes it with -redis, closed when the
// server stops.
func serveNode(t *testing.T, rs *redistest.Server, wait time.Duration) (*room, *httptest.Server) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { rdb.Close() })
	topic, err := redistore.NewTopic(rdb, "chat", 0, messageCodec, redistore.TopicOptions{})
	require.NoError(t, err)
	chat := &room{wait: wait, topic: topic}
	o := sessionPerPath(&continuity.Options{})
	o.Hooks.ServerStop = func() { topic.Close() }
	srv, err := continuity.New(chat.app, o)
	require.NoError(t, err)
	return chat, webtest.Serve(t, srv, srv)
}

// TestChatInterruptReachesEveryNode: an interrupt on node A answers the
// long polls waiting on node B as well as A's own, at once.
func TestChatInterruptReachesEveryNode(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	a, tsA := serveNode(t, rs, time.Minute)
	b, tsB := serveNode(t, rs, time.Minute)
	// Interrupts are announcements only: both nodes must be listening.
	raw := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer raw.Close()
	require.Eventually(t, func() bool {
		n, err := raw.PubSubNumSub(context.Background(), announce).Result()
		return err == nil && n[announce] == 2
	}, 10*time.Second, 10*time.Millisecond, "both nodes subscribe to the topic")

	done := make(chan chatAnswer, 3)
	poll := func(ts *httptest.Server) {
		c := chatClient(t, ts)
		go func() {
			ans, err := receive(c, ts.URL, 0)
			assert.NoError(t, err)
			done <- ans
		}()
	}
	poll(tsA)
	poll(tsB)
	poll(tsB)
	waitForReceivers(t, a, 1)
	waitForReceivers(t, b, 2)

	a.interrupt()
	for range 3 {
		select {
		case ans := <-done:
			assert.Empty(t, ans.Messages)
		case <-time.After(5 * time.Second):
			t.Fatal("a poll was not interrupted (they wait a minute)")
		}
	}
}

// TestChatMessageCodec: a message goes between nodes as its JSON object,
// and a node checks what it receives as if it had been posted to it.
func TestChatMessageCodec(t *testing.T) {
	m, err := newMessage(" ann ", "hello\n<b>there</b>", time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC))
	require.NoError(t, err)
	b, err := messageCodec.Encode(m)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"ann","message":"hello\n<b>there</b>","time":"2026-01-02T03:04:05Z"}`, string(b))
	got, err := messageCodec.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, m, got)

	_, err = messageCodec.Decode([]byte(`{"name":"ann","message":"abc\u202efed","time":"2026-01-02T03:04:05Z"}`))
	assert.ErrorContains(t, err, "bidirectional")
	_, err = messageCodec.Decode([]byte(`{"name":"ann"`))
	assert.Error(t, err)
}
