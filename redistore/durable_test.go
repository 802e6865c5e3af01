package redistore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/journal"
	"github.com/continuity-go/continuity/redistore"
)

// hasWAITAOF tells whether the test's redis-server is 7.2 or later
// (Debian 12's 7.0.15 is not; REDIS_SERVER may name a newer one).
func (e *env) hasWAITAOF() bool {
	res, err := e.client().Do(ctx(e.t), "COMMAND", "INFO", "WAITAOF").Slice()
	require.NoError(e.t, err)
	return len(res) == 1 && res[0] != nil
}

var local = redistore.Durability{Local: true, Timeout: 3 * time.Second}

// With Redis's default appendfsync everysec, a durable append is
// confirmed by WAITAOF on Redis 7.2+; on an older Redis it cannot be,
// and the append says so plainly, after appending.
func TestDurableLocalEverysec(t *testing.T) {
	e := newEnv(t, redistest.Options{AppendOnly: true})
	s, _ := e.journals(redistore.JournalOptions{})
	c := ctx(t)
	l, err := s.Acquire(c, "s", "A")
	require.NoError(t, err)
	j := l.JournalWith(local)

	err = j.Append(c, "s", 1, step(0, "a"))
	check := s.CheckDurable(c, local)
	if e.hasWAITAOF() {
		require.NoError(t, err)
		require.NoError(t, check)
	} else {
		require.ErrorIs(t, err, redistore.ErrNotDurable)
		require.ErrorContains(t, err, "has no WAITAOF (7.2+), and appendfsync is everysec, not always")
		require.ErrorIs(t, check, redistore.ErrNotDurable)
		require.ErrorContains(t, check, "appendfsync is everysec")
		t.Log(err)
	}
	// Either way the entry was appended: the flow goes on at seq 2.
	assert.Len(t, load(t, s, "s"), 1)
	require.NoError(t, l.Journal().Append(c, "s", 2, step(1, "b")), "the store's default waits for nothing")
	require.NoError(t, s.CheckDurable(c, redistore.Durability{}))
}

func TestDurableLocalAppendOnlyOff(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s, _ := e.journals(redistore.JournalOptions{Durable: local})
	c := ctx(t)
	err := s.Append(c, "s", 1, step(0, "a"))
	require.ErrorIs(t, err, redistore.ErrNotDurable)
	if e.hasWAITAOF() {
		require.ErrorContains(t, err, "appendonly is disabled")
	} else {
		require.ErrorContains(t, err, "appendonly is off")
	}
	require.ErrorIs(t, s.CheckDurable(c, local), redistore.ErrNotDurable)
	require.ErrorContains(t, s.CheckDurable(c, local), "appendonly is off")
	require.ErrorIs(t, s.Append(c, "s", 2, step(1, "b")), redistore.ErrNotDurable, "appended, though not durably")
	require.ErrorIs(t, s.Append(c, "s", 2, step(1, "b")), journal.ErrConflict, "an error of the append comes first")
	assert.Len(t, load(t, s, "s"), 2)
}

// With appendfsync always, every answered append is on disk: a durable
// append is confirmed (by WAITAOF, or by the setting before Redis 7.2),
// and survives a SIGKILL of Redis.
func TestDurableLocalFsyncAlways(t *testing.T) {
	e := newEnv(t, redistest.Options{AppendOnly: true, AppendFsync: "always"})
	s, _ := e.journals(redistore.JournalOptions{Durable: local})
	c := ctx(t)
	require.NoError(t, s.CheckDurable(c, local))
	l, err := s.Acquire(c, "s", "A")
	require.NoError(t, err)
	for i := range 10 {
		require.NoError(t, l.Journal().Append(c, "s", uint64(i+1), step(i, "a")))
	}
	e.srv.Kill()
	e.srv.Restart()
	assert.Len(t, load(t, s, "s"), 10)
	require.NoError(t, l.Journal().Append(c, "s", 11, step(10, "a")))
}

// Replicas: with none connected the wait times out and says so; with a
// replica of the server it is confirmed (WAITAOF 0 1, or WAIT 1 before
// 7.2: received).
func TestDurableReplicas(t *testing.T) {
	e := newEnv(t, redistest.Options{AppendOnly: true})
	s, _ := e.journals(redistore.JournalOptions{})
	c := ctx(t)
	one := redistore.Durability{Replicas: 1, Timeout: 50 * time.Millisecond}

	require.ErrorContains(t, s.CheckDurable(c, one), "0 replicas online, 1 asked")
	l, err := s.Acquire(c, "t", "A")
	require.NoError(t, err)
	err = l.JournalWith(one).Append(c, "t", 1, step(0, "a"))
	require.ErrorIs(t, err, redistore.ErrNotDurable)
	require.ErrorContains(t, err, "within 50ms")

	_, port, _ := strings.Cut(e.srv.Addr(), ":")
	// The first sync would wait 5s for more replicas (Redis's default).
	require.NoError(t, e.client().ConfigSet(c, "repl-diskless-sync-delay", "0").Err())
	_ = redistest.Start(t, redistest.Options{AppendOnly: true, Args: []string{"--replicaof", "127.0.0.1", port}})
	eventually(t, "replica online", func() bool { return s.CheckDurable(c, one) == nil })
	one.Timeout = 5 * time.Second
	require.NoError(t, l.JournalWith(one).Append(c, "t", 2, step(1, "b")))
	both := redistore.Durability{Local: true, Replicas: 1, Timeout: 5 * time.Second}
	err = l.JournalWith(both).Append(c, "t", 3, step(2, "c"))
	if e.hasWAITAOF() {
		require.NoError(t, err)
	} else {
		require.ErrorIs(t, err, redistore.ErrNotDurable)
		require.ErrorContains(t, err, "has no WAITAOF")
		require.NotContains(t, err.Error(), "replicas received", "the replica part was confirmed")
	}
	assert.Len(t, load(t, l.Journal(), "t"), 3)
}
