package redistore_test

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/journal"
	"github.com/continuity-go/continuity/redistore"
)

// journals is a node's journal store, on a client of its own (returned
// too, for the test to look at Redis directly).
func (e *env) journals(o redistore.JournalOptions) (*redistore.JournalStore, *redis.Client) {
	c := e.client()
	s, err := redistore.NewJournalStore(c, o)
	require.NoError(e.t, err)
	return s, c
}

func step(n int, name string) journal.Entry {
	return journal.Entry{Kind: journal.Input, Step: n, Method: "POST", Path: "/wizard", Query: "a=1&b=%20",
		Form: url.Values{"name": {name}, "tags": {"x", "", "é ✓\x00"}}}
}

// The key layout, as documented for operators and Redis Cluster.
func streamKey(session string) string { return "continuity:journal:{" + session + "}:j" }

func TestJournalStoreAppendLoad(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s, rdb := e.journals(redistore.JournalOptions{})
	c := ctx(t)

	got, err := s.Load(c, "s1")
	require.NoError(t, err)
	assert.Nil(t, got, "an unknown session has no entries")

	want := []journal.Entry{
		step(0, "ann"),
		{Kind: journal.Once, Step: 0, Name: "now", Value: []byte(`"2026-01-02T03:04:05Z"`)},
		{Kind: journal.Once, Step: 1, Name: "charge", Err: "card declined"},
		{Kind: journal.Barrier, Step: 1},
		step(1, strings.Repeat("long ", 1000)),
		{Kind: journal.Rewind, Step: 0},
		{Kind: journal.Input, Step: 1, Method: "GET", Path: "/"},
	}
	for i, en := range want {
		require.NoError(t, s.Append(c, "s1", uint64(i+1), en), "entry %d", i+1)
	}
	got, err = s.Load(c, "s1")
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// One stream per session, IDs 0-1, 0-2, …: a position is written once.
	msgs, err := rdb.XRange(c, streamKey("s1"), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, len(want))
	for i, m := range msgs {
		assert.Equal(t, fmt.Sprintf("0-%d", i+1), m.ID)
		assert.Equal(t, "0", m.Values["ep"], "written without a lease")
	}
	// The encoding is compact: an input is its strings plus a few bytes.
	enc := msgs[0].Values["e"].(string)
	assert.Less(t, len(enc), 60, "%q", enc)
	assert.NotContains(t, enc, "Cookie")

	// Sessions are independent.
	require.NoError(t, s.Append(c, "s2", 1, step(0, "bob")))
	got, err = s.Load(c, "s2")
	require.NoError(t, err)
	assert.Equal(t, []journal.Entry{step(0, "bob")}, got)
	assert.Equal(t, want, load(t, s, "s1"))
}

// load is s.Load, which must succeed.
func load(t *testing.T, s journal.Store, session string) []journal.Entry {
	t.Helper()
	got, err := s.Load(ctx(t), session)
	require.NoError(t, err)
	return got
}

func TestJournalStoreOutOfSequence(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s, _ := e.journals(redistore.JournalOptions{})
	c := ctx(t)

	require.ErrorIs(t, s.Append(c, "s", 0, step(0, "a")), journal.ErrConflict, "seq starts at 1")
	require.ErrorIs(t, s.Append(c, "s", 2, step(0, "a")), journal.ErrConflict, "the first entry is seq 1")
	require.NoError(t, s.Append(c, "s", 1, step(0, "a")))
	require.ErrorIs(t, s.Append(c, "s", 1, step(1, "b")), journal.ErrConflict, "seq 1 is taken")
	require.ErrorIs(t, s.Append(c, "s", 3, step(1, "b")), journal.ErrConflict, "seq 2 comes first (XADD alone would take 0-3)")
	require.NoError(t, s.Append(c, "s", 2, step(1, "b")))
	got, err := s.Load(c, "s")
	require.NoError(t, err)
	assert.Equal(t, []journal.Entry{step(0, "a"), step(1, "b")}, got)

	require.NoError(t, s.Delete(c, "s"))
	require.NoError(t, s.Delete(c, "unknown"))
	assert.Empty(t, load(t, s, "s"))
	require.ErrorIs(t, s.Append(c, "s", 3, step(2, "c")), journal.ErrConflict,
		"a writer that missed the delete cannot recreate the journal")
	require.NoError(t, s.Append(c, "s", 1, step(0, "c")))

	// Concurrent writers of one position: exactly one wins.
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- s.Append(c, "race", 1, step(0, fmt.Sprint(i))) })
	}
	wg.Wait()
	close(errs)
	wins := 0
	for err := range errs {
		if err == nil {
			wins++
		} else {
			require.ErrorIs(t, err, journal.ErrConflict)
		}
	}
	assert.Equal(t, 1, wins)
	assert.Len(t, load(t, s, "race"), 1)
}

func TestJournalStoreCaps(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	c := ctx(t)

	s, _ := e.journals(redistore.JournalOptions{Limits: journal.Limits{MaxEntries: 3}})
	for i := range 3 {
		require.NoError(t, s.Append(c, "s", uint64(i+1), step(i, "x")))
	}
	require.ErrorIs(t, s.Append(c, "s", 4, step(3, "x")), journal.ErrFull)
	assert.Len(t, load(t, s, "s"), 3, "a refused append stores nothing")

	// Bytes are counted as the memory store counts them (Entry.Size).
	big := step(0, strings.Repeat("y", 500))
	barrier := journal.Entry{Kind: journal.Barrier}
	b, _ := e.journals(redistore.JournalOptions{Prefix: "bytes:", Limits: journal.Limits{MaxBytes: int64(2*big.Size() + barrier.Size())}})
	require.NoError(t, b.Append(c, "s", 1, big))
	require.NoError(t, b.Append(c, "s", 2, big))
	require.ErrorIs(t, b.Append(c, "s", 3, big), journal.ErrFull)
	require.NoError(t, b.Append(c, "s", 3, barrier), "a smaller entry still fits")
	require.ErrorIs(t, b.Append(c, "s", 4, barrier), journal.ErrFull)
	// After a delete the session starts again with nothing counted.
	require.NoError(t, b.Delete(c, "s"))
	require.NoError(t, b.Append(c, "s", 1, big))
	require.NoError(t, b.Append(c, "s", 2, big))

	unbounded, _ := e.journals(redistore.JournalOptions{Prefix: "none:", Limits: journal.Limits{MaxEntries: -1, MaxBytes: -1}})
	for i := range journal.DefaultMaxEntries + 1 {
		require.NoError(t, unbounded.Append(c, "s", uint64(i+1), journal.Entry{Kind: journal.Barrier, Step: i}))
	}
}

func TestJournalStoreTTL(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s, rdb := e.journals(redistore.JournalOptions{TTL: time.Hour})
	c := ctx(t)
	require.NoError(t, s.Append(c, "s", 1, step(0, "a")))
	ttl := rdb.PTTL(c, streamKey("s")).Val()
	assert.Greater(t, ttl, 59*time.Minute)
	assert.LessOrEqual(t, ttl, time.Hour)

	// An append refreshes the session's TTL.
	require.NoError(t, rdb.PExpire(c, streamKey("s"), time.Minute).Err())
	require.NoError(t, s.Append(c, "s", 2, step(1, "b")))
	assert.Greater(t, rdb.PTTL(c, streamKey("s")).Val(), 59*time.Minute)

	// A journal Redis freed is gone: its writer, still at seq 3, conflicts.
	require.NoError(t, rdb.PExpire(c, streamKey("s"), time.Millisecond).Err())
	require.NoError(t, rdb.PExpire(c, "continuity:journal:{s}:m", time.Millisecond).Err())
	eventually(t, "journal expired", func() bool { return rdb.Exists(c, streamKey("s")).Val() == 0 })
	require.ErrorIs(t, s.Append(c, "s", 3, step(2, "c")), journal.ErrConflict)
	assert.Empty(t, load(t, s, "s"))
}

func TestJournalStoreBadInput(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	rdb := e.client()
	c := ctx(t)

	_, err := redistore.NewJournalStore(nil, redistore.JournalOptions{})
	require.Error(t, err)
	_, err = redistore.NewJournalStore(rdb, redistore.JournalOptions{Prefix: "a{b"})
	require.ErrorContains(t, err, "brace")
	_, err = redistore.NewJournalStore(rdb, redistore.JournalOptions{TTL: time.Second, LeaseTTL: 2 * time.Second})
	require.ErrorContains(t, err, "longer than the lease TTL")
	_, err = redistore.NewJournalStore(redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}),
		redistore.JournalOptions{Durable: redistore.Durability{Local: true}})
	require.ErrorContains(t, err, "single Redis")

	s, _ := e.journals(redistore.JournalOptions{})
	for _, bad := range []string{"", "a{b", "a}b", strings.Repeat("s", 257)} {
		require.ErrorContains(t, s.Append(c, bad, 1, step(0, "a")), "invalid journal session key", "%q", bad)
		_, err := s.Load(c, bad)
		require.Error(t, err)
		require.Error(t, s.Delete(c, bad))
		_, err = s.Acquire(c, bad, "node")
		require.Error(t, err)
	}
	_, err = s.Acquire(c, "s", "")
	require.ErrorContains(t, err, "invalid node name")

	// A journal corrupted in Redis is an error naming the entry, not a panic.
	require.NoError(t, s.Append(c, "s", 1, step(0, "a")))
	require.NoError(t, rdb.XAdd(c, &redis.XAddArgs{Stream: streamKey("s"), ID: "0-2", Values: []string{"e", "\x01\x01garbage"}}).Err())
	require.NoError(t, rdb.XAdd(c, &redis.XAddArgs{Stream: streamKey("t"), ID: "0-1", Values: []string{"e", "\x09\x01"}}).Err())
	_, err = s.Load(c, "s")
	require.ErrorContains(t, err, `journal of session "s", entry 0-2: malformed entry`)
	_, err = s.Load(c, "t")
	require.ErrorContains(t, err, "version 9 unknown")
}

// With appendonly on, the journal (and the lease) outlive a Redis
// restart, and the writer goes on where it was.
func TestJournalStoreSurvivesRedisRestart(t *testing.T) {
	e := newEnv(t, redistest.Options{AppendOnly: true})
	s, _ := e.journals(redistore.JournalOptions{})
	c := ctx(t)
	l, err := s.Acquire(c, "s", "A")
	require.NoError(t, err)
	j := l.Journal()
	for i := range 5 {
		require.NoError(t, j.Append(c, "s", uint64(i+1), step(i, "a")))
	}
	require.NoError(t, s.Append(c, "plain", 1, step(0, "p")))

	e.srv.Restart()

	got, err := s.Load(c, "s")
	require.NoError(t, err)
	require.Len(t, got, 5)
	o, held, err := s.Owner(c, "s")
	require.NoError(t, err)
	require.True(t, held)
	assert.Equal(t, l.Owner().Epoch, o.Epoch)
	require.NoError(t, j.Append(c, "s", 6, step(5, "a")), "the owner appends on after the restart")
	require.ErrorIs(t, j.Append(c, "s", 6, step(5, "a")), journal.ErrConflict)
	assert.Len(t, load(t, s, "plain"), 1)

	// A SIGKILL with appendfsync always loses nothing that was answered.
	k := newEnv(t, redistest.Options{AppendOnly: true, AppendFsync: "always"})
	ks, _ := k.journals(redistore.JournalOptions{})
	for i := range 20 {
		require.NoError(t, ks.Append(c, "s", uint64(i+1), step(i, "a")))
	}
	k.srv.Kill()
	k.srv.Restart()
	assert.Len(t, load(t, ks, "s"), 20)
}
