package redistore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/continuity-go/continuity/request"
)

// Defaults for the zero values of [TopicOptions].
const (
	DefaultMaxLen        = request.DefaultTopicCapacity
	DefaultMaxEventBytes = 64 << 10
	maxTopicName         = 256
	subscribeTimeout     = 5 * time.Second
)

// ErrEventTooBig is returned by [TopicTransport.Publish] for an encoded
// event longer than [TopicOptions].MaxEventBytes.
var ErrEventTooBig = errors.New("redistore: event too big")

// TopicOptions configure a [TopicTransport]. The zero value is the default.
type TopicOptions struct {
	// Prefix starts the topic's key and channel names. Default
	// "continuity:"; it must not hold "{" or "}".
	Prefix string
	// MaxLen bounds the events Redis keeps for the topic (approximately:
	// Redis trims whole blocks, so it may keep a hundred or so more): what
	// a node that starts, or reconnects after a long outage, can catch up
	// on. Make it at least the capacity of the topics on it. Default
	// 1024 ([request.DefaultTopicCapacity]).
	MaxLen int
	// MaxEventBytes bounds one encoded event. Default 64 KiB.
	MaxEventBytes int
	// PollInterval is how long the subscriber waits on a silent channel
	// before it pings Redis and reads the stream anyway: a safety net for
	// announcements lost while its connection was down. Default 10s.
	PollInterval time.Duration
}

// A TopicTransport is a [request.TopicTransport] over Redis: the topic's
// events are entries of a Redis stream, whose IDs 0-1, 0-2, … are the
// events' versions, the same on every node; each publish announces itself
// on a pub/sub channel, on which every node's subscriber learns that it
// should read the stream, and which carries interrupts. A node that missed
// announcements (its connection was down) reads what it missed from the
// stream when it subscribes again. If Redis loses the stream, a new one
// starts with a new generation, and the nodes' topics start over
// ([request.TopicReceiver].Reset).
//
// Make one per topic and node with [NewTopicTransport], and give it to
// [request.NewTopicWith] (or use [NewTopic]); the Topic's Close stops the
// subscription.
type TopicTransport struct {
	c       redis.UniversalClient
	stream  string // the events
	genKey  string // the stream's generation
	channel string
	origin  string // tells this transport's announcements from others'
	maxLen  int
	maxSize int
	sub     subscriber

	mu         sync.Mutex // serializes the receiver's calls, and guards below
	subscribed bool
	r          request.TopicReceiver // nil once stopped
	backlog    int
	gen        string // the generation r has events of
	last       uint64 // the version of the last event given to r
}

var _ request.TopicTransport = (*TopicTransport)(nil)

// NewTopicTransport returns the transport of the topic name (1 to 256
// bytes, no "{" or "}") over c, which the caller closes after the topics
// on it.
func NewTopicTransport(c redis.UniversalClient, name string, o TopicOptions) (*TopicTransport, error) {
	if c == nil {
		return nil, errors.New("redistore: NewTopicTransport: nil client")
	}
	if name == "" || len(name) > maxTopicName || strings.ContainsAny(name, "{}") {
		return nil, fmt.Errorf("redistore: invalid topic name %q: want 1 to %d bytes, without braces", name, maxTopicName)
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redistore: prefix %q holds a brace (it would change the keys' hash tag)", prefix)
	}
	base := prefix + "topic:{" + name + "}"
	t := &TopicTransport{
		c:       c,
		stream:  base,
		genKey:  base + ":gen",
		channel: base + ":announce",
		origin:  rand.Text(),
		maxLen:  o.MaxLen,
		maxSize: o.MaxEventBytes,
	}
	if t.maxLen <= 0 {
		t.maxLen = DefaultMaxLen
	}
	if t.maxSize <= 0 {
		t.maxSize = DefaultMaxEventBytes
	}
	poll := o.PollInterval
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	t.sub = subscriber{
		c:            c,
		channel:      t.channel,
		idle:         poll,
		onMessage:    t.announced,
		onSubscribed: t.catchUpQuietly,
		onIdle:       t.catchUpQuietly,
	}
	return t, nil
}

// NewTopic returns a [request.Topic] of capacity events named name, shared
// through Redis by every node that makes one of that name over the same
// Redis: [request.NewTopicWith] over a [NewTopicTransport]. Close the
// topic when done.
func NewTopic[T any](c redis.UniversalClient, name string, capacity int, codec request.Codec[T], o TopicOptions) (*request.Topic[T], error) {
	tr, err := NewTopicTransport(c, name, o)
	if err != nil {
		return nil, err
	}
	return request.NewTopicWith(capacity, tr, codec)
}

// publishScript: KEYS stream, generation; ARGV data, max length, channel,
// announcement. A new stream (the first, or one after Redis lost the
// topic) gets a new generation. Returns {generation, id}.
var publishScript = redis.NewScript(`
local gen = redis.call('GET', KEYS[2])
if not gen or redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  gen = t[1] .. '.' .. t[2]
  redis.call('SET', KEYS[2], gen)
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '0-*', 'd', ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {gen, id}
`)

// readScript: KEYS stream, generation; ARGV last version, generation,
// count. Returns {generation, entries}: the latest count entries after
// the last version, or, if the generation is not the caller's, the
// latest count entries; newest first.
var readScript = redis.NewScript(`
local gen = redis.call('GET', KEYS[2]) or ''
local from = '(0-' .. ARGV[1]
if gen ~= ARGV[2] then from = '-' end
return {gen, redis.call('XREVRANGE', KEYS[1], '+', from, 'COUNT', ARGV[3])}
`)

// Publish implements [request.TopicTransport].
func (t *TopicTransport) Publish(ctx context.Context, data []byte) (uint64, error) {
	if len(data) > t.maxSize {
		return 0, fmt.Errorf("%w: %d bytes, more than %d", ErrEventTooBig, len(data), t.maxSize)
	}
	res, err := publishScript.Run(ctx, t.c, []string{t.stream, t.genKey},
		data, t.maxLen, t.channel, "e"+t.origin).StringSlice()
	if err != nil {
		return 0, fmt.Errorf("redistore: publishing: %w", err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redistore: unexpected reply %q", res)
	}
	v, err := version(res[1])
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.r == nil {
		return v, nil
	}
	if res[0] == t.gen && v == t.last+1 {
		// The next event, which this node has all before: no need to read
		// it back.
		t.r.Receive([]request.EncodedEvent{{Version: v, Data: data}})
		t.last = v
		return v, nil
	}
	if err := t.catchUpLocked(ctx); err != nil {
		return v, err
	}
	return v, nil
}

// Interrupt implements [request.TopicTransport].
func (t *TopicTransport) Interrupt(ctx context.Context) error {
	if err := t.c.Publish(ctx, t.channel, "i"+t.origin).Err(); err != nil {
		return fmt.Errorf("redistore: interrupting: %w", err)
	}
	return nil
}

// Subscribe implements [request.TopicTransport]. It reads the backlog
// before it returns, if Redis answers within a few seconds; else the
// subscriber reads it when Redis does.
func (t *TopicTransport) Subscribe(backlog int, r request.TopicReceiver) (func(), error) {
	if r == nil {
		return nil, errors.New("redistore: Subscribe: nil receiver")
	}
	t.mu.Lock()
	if t.subscribed {
		t.mu.Unlock()
		return nil, errors.New("redistore: topic transport already subscribed")
	}
	t.subscribed, t.r, t.backlog = true, r, max(backlog, 1)
	t.mu.Unlock()
	if err := t.sub.start(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	t.mu.Lock()
	_ = t.catchUpLocked(ctx)
	t.mu.Unlock()
	return t.stop, nil
}

// stop ends the subscription; no call to the receiver runs or follows
// once it returns.
func (t *TopicTransport) stop() {
	t.sub.close()
	t.mu.Lock()
	t.r = nil
	t.mu.Unlock()
}

// announced handles a message on the topic's channel: an event was
// published, or the waiters are interrupted.
func (t *TopicTransport) announced(msg string) {
	if len(msg) == 0 || msg[1:] == t.origin {
		return // this node's own: already handled
	}
	switch msg[0] {
	case 'e':
		t.catchUpQuietly()
	case 'i':
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.r != nil {
			t.r.Interrupt()
		}
	}
}

// catchUpQuietly reads what this node misses, for the subscriber, which
// tries again at the next announcement, subscription or idle poll if it
// fails.
func (t *TopicTransport) catchUpQuietly() {
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.catchUpLocked(ctx)
}

// catchUpLocked gives the receiver the events it has not had, up to the
// backlog's worth of the latest. t.mu must be held.
func (t *TopicTransport) catchUpLocked(ctx context.Context) error {
	if t.r == nil {
		return nil
	}
	res, err := readScript.Run(ctx, t.c, []string{t.stream, t.genKey}, t.last, t.gen, t.backlog).Slice()
	if err != nil {
		return fmt.Errorf("redistore: reading topic: %w", err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redistore: unexpected reply %v", res)
	}
	gen, _ := res[0].(string)
	entries, _ := res[1].([]any)
	evs := make([]request.EncodedEvent, 0, len(entries))
	for _, e := range slices.Backward(entries) {
		ev, err := entry(e)
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	if gen != t.gen {
		if t.gen != "" || t.last > 0 {
			t.r.Reset() // Redis lost the topic: a new stream
		}
		t.gen, t.last = gen, 0
	}
	if len(evs) > 0 {
		t.r.Receive(evs)
		t.last = evs[len(evs)-1].Version
	}
	return nil
}

// version parses a stream entry ID, 0-N, to N.
func version(id string) (uint64, error) {
	n, ok := strings.CutPrefix(id, "0-")
	v, err := strconv.ParseUint(n, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("redistore: unexpected stream entry ID %q", id)
	}
	return v, nil
}

// entry decodes one XRANGE entry, [id, [field, value, …]].
func entry(e any) (request.EncodedEvent, error) {
	pair, _ := e.([]any)
	if len(pair) != 2 {
		return request.EncodedEvent{}, fmt.Errorf("redistore: unexpected stream entry %v", e)
	}
	id, _ := pair[0].(string)
	v, err := version(id)
	if err != nil {
		return request.EncodedEvent{}, err
	}
	fields, _ := pair[1].([]any)
	for i := 0; i+1 < len(fields); i += 2 {
		if f, _ := fields[i].(string); f == "d" {
			d, _ := fields[i+1].(string)
			return request.EncodedEvent{Version: v, Data: []byte(d)}, nil
		}
	}
	return request.EncodedEvent{}, fmt.Errorf("redistore: stream entry %s has no data", id)
}
