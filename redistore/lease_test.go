package redistore_test

import (
	"context"
	"errors"
	"fmt"
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

// journalsOwner asks Redis who holds the session's lease, through a
// store of its own.
func (e *env) journalsOwner(session string) (redistore.Owner, bool, error) {
	s, _ := e.journals(redistore.JournalOptions{})
	return s.Owner(ctx(e.t), session)
}

// epochs are the epochs that wrote the session's entries, in order.
func epochs(t *testing.T, rdb *redis.Client, session string) []string {
	t.Helper()
	msgs, err := rdb.XRange(ctx(t), streamKey(session), "-", "+").Result()
	require.NoError(t, err)
	var out []string
	for _, m := range msgs {
		out = append(out, m.Values["ep"].(string))
	}
	return out
}

// The race of issue 11: owner A appends, then pauses (stops renewing);
// its lease lapses; B takes the session over and appends; A wakes up and
// appends: refused, and nothing of A's after the takeover is in the
// journal.
func TestLeaseTakeoverFencesPausedOwner(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	const ttl = 300 * time.Millisecond
	nodeA, _ := e.journals(redistore.JournalOptions{LeaseTTL: ttl})
	nodeB, rdb := e.journals(redistore.JournalOptions{LeaseTTL: ttl})
	c := ctx(t)

	a, err := nodeA.Acquire(c, "s", "A")
	require.NoError(t, err)
	ja := a.Journal()
	for i := range 3 {
		require.NoError(t, ja.Append(c, "s", uint64(i+1), step(i, "from A")))
	}
	require.NoError(t, a.Renew(c))
	o, held, err := nodeB.Owner(c, "s")
	require.NoError(t, err)
	require.True(t, held)
	assert.Equal(t, "A", o.Node)
	assert.Equal(t, a.Owner().Epoch, o.Epoch)
	assert.Positive(t, o.TTL)

	// B cannot take a live lease at once.
	_, err = nodeB.TryAcquire(c, "s", "B")
	require.ErrorIs(t, err, redistore.ErrHeld)
	require.ErrorContains(t, err, `node "A"`)

	// A pauses. B waits the lease out (it is not renewed), then holds the
	// next epoch, replays and appends.
	start := time.Now()
	b, err := nodeB.Acquire(c, "s", "B")
	require.NoError(t, err)
	t.Logf("takeover after %v (lease TTL %v)", time.Since(start), ttl)
	assert.Equal(t, a.Owner().Epoch+1, b.Owner().Epoch)
	jb := b.Journal()
	got, err := jb.Load(c, "s")
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.NoError(t, jb.Append(c, "s", 4, step(3, "from B")))

	// A wakes up: its next append fails, whether it names the position B
	// took or the next free one, and so do its renewal and release.
	for _, seq := range []uint64{4, 5} {
		err := ja.Append(c, "s", seq, step(int(seq)-1, "from A, too late"))
		require.ErrorIs(t, err, redistore.ErrFenced, "seq %d", seq)
		require.ErrorContains(t, err, fmt.Sprintf(`held by node "B" (epoch %d)`, b.Owner().Epoch))
	}
	require.ErrorIs(t, ja.Delete(c, "s"), redistore.ErrFenced)
	require.ErrorIs(t, a.Renew(c), redistore.ErrFenced)
	require.ErrorIs(t, a.Release(c), redistore.ErrFenced)
	// Nor can anyone write without a lease while B holds it.
	require.ErrorIs(t, nodeA.Append(c, "s", 5, step(4, "unleased")), redistore.ErrFenced)
	require.ErrorIs(t, nodeA.Delete(c, "s"), redistore.ErrFenced)

	ea, eb := fmt.Sprint(a.Owner().Epoch), fmt.Sprint(b.Owner().Epoch)
	assert.Equal(t, []string{ea, ea, ea, eb}, epochs(t, rdb, "s"), "nothing of A's reached the journal after the takeover")
	o, held, err = nodeA.Owner(c, "s")
	require.NoError(t, err)
	require.True(t, held, "A's release left B's lease alone")
	assert.Equal(t, "B", o.Node)
	require.NoError(t, jb.Append(c, "s", 5, step(4, "from B")))
}

// A lease that lapsed with nobody taking it is not revived by its holder;
// the holder acquires again (a new epoch) and appends on.
func TestLeaseLapsedIsNotRevived(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s, rdb := e.journals(redistore.JournalOptions{})
	c := ctx(t)
	a, err := s.Acquire(c, "s", "A")
	require.NoError(t, err)
	require.NoError(t, a.Journal().Append(c, "s", 1, step(0, "a")))

	// The lease lapses (as if A paused for its TTL).
	require.NoError(t, rdb.Del(c, "continuity:journal:{s}:lease").Err())
	require.ErrorIs(t, a.Journal().Append(c, "s", 2, step(1, "a")), redistore.ErrFenced)
	require.ErrorIs(t, a.Renew(c), redistore.ErrFenced)
	_, held, err := s.Owner(c, "s")
	require.NoError(t, err)
	assert.False(t, held)

	a2, err := s.Acquire(c, "s", "A")
	require.NoError(t, err)
	assert.Equal(t, a.Owner().Epoch+1, a2.Owner().Epoch)
	require.NoError(t, a2.Journal().Append(c, "s", 2, step(1, "a")))
	require.ErrorIs(t, a.Journal().Append(c, "s", 3, step(2, "a")), redistore.ErrFenced, "the old lease stays fenced")

	// Were Redis to lose the epoch counter, the next epoch still passes
	// every epoch that appended, and older ones stay out.
	require.NoError(t, rdb.Del(c, "continuity:journal:{s}:lease", "continuity:journal:{s}:epoch").Err())
	a3, err := s.Acquire(c, "s", "A")
	require.NoError(t, err)
	assert.Equal(t, a2.Owner().Epoch+1, a3.Owner().Epoch)
	require.NoError(t, a3.Journal().Append(c, "s", 3, step(2, "a")))
	// A writer without a lease cannot write to a session leased before.
	require.NoError(t, a3.Release(c))
	require.ErrorIs(t, s.Append(c, "s", 4, step(3, "unleased")), redistore.ErrFenced)
	assert.Len(t, load(t, s, "s"), 3)
}

// A draining node releases its lease after the step: the next node takes
// it at once, with no wait for the TTL, even one waiting already.
func TestLeaseReleasedIsTakenAtOnce(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	nodeA, _ := e.journals(redistore.JournalOptions{LeaseTTL: time.Hour, TTL: 2 * time.Hour})
	nodeB, _ := e.journals(redistore.JournalOptions{LeaseTTL: time.Hour, TTL: 2 * time.Hour})
	c := ctx(t)

	a, err := nodeA.Acquire(c, "s", "A")
	require.NoError(t, err)
	require.NoError(t, a.Journal().Append(c, "s", 1, step(0, "a")))
	require.NoError(t, a.Release(c))
	require.ErrorIs(t, a.Journal().Append(c, "s", 2, step(1, "a")), redistore.ErrFenced, "a released lease writes no more")
	require.ErrorIs(t, a.Release(c), redistore.ErrFenced, "released twice")

	b, err := nodeB.TryAcquire(c, "s", "B")
	require.NoError(t, err, "a released lease is free at once")
	require.NoError(t, b.Journal().Append(c, "s", 2, step(1, "b")))

	// A waiter is let in within AcquirePoll of the release, not after the
	// hour the lease would last.
	got := make(chan *redistore.Lease, 1)
	wc, cancel := context.WithTimeout(c, 10*time.Second)
	defer cancel()
	go func() {
		l, err := nodeA.Acquire(wc, "s", "A")
		assert.NoError(t, err)
		got <- l
	}()
	require.NoError(t, b.Release(c))
	l := <-got
	require.NotNil(t, l)
	assert.Equal(t, b.Owner().Epoch+1, l.Owner().Epoch)
	assert.Equal(t, "s", l.Session())

	// Acquire gives up when its context is done, saying who holds it.
	short, cancel2 := context.WithTimeout(c, 100*time.Millisecond)
	defer cancel2()
	_, err = nodeB.Acquire(short, "s", "B")
	require.ErrorIs(t, err, redistore.ErrHeld)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, `node "A"`)
}

func TestLeaseConcurrentAcquirersOneWins(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	const n = 8
	c := ctx(t)
	for round := range 5 {
		session := fmt.Sprint("s", round)
		var wg sync.WaitGroup
		leases := make(chan *redistore.Lease, n)
		for i := range n {
			s, _ := e.journals(redistore.JournalOptions{})
			wg.Go(func() {
				l, err := s.TryAcquire(c, session, fmt.Sprint("node", i))
				if err != nil {
					assert.ErrorIs(t, err, redistore.ErrHeld)
					return
				}
				leases <- l
			})
		}
		wg.Wait()
		close(leases)
		require.Len(t, leases, 1, "exactly one acquirer wins")
		w := <-leases
		o, held, err := e.journalsOwner(session)
		require.NoError(t, err)
		require.True(t, held)
		assert.Equal(t, w.Owner().Node, o.Node)
		assert.Equal(t, w.Owner().Epoch, o.Epoch)
		require.NoError(t, w.Journal().Append(c, session, 1, step(0, "winner")))
	}

	// Waiting acquirers of a dead node's lease: when it lapses, exactly
	// one takes it; the others wait on until their context is done.
	dead, _ := e.journals(redistore.JournalOptions{LeaseTTL: 200 * time.Millisecond})
	old, err := dead.Acquire(c, "lapsing", "dead")
	require.NoError(t, err)
	wc, cancel := context.WithTimeout(c, 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	leases := make(chan *redistore.Lease, n)
	for i := range n {
		s, _ := e.journals(redistore.JournalOptions{})
		wg.Go(func() {
			l, err := s.Acquire(wc, "lapsing", fmt.Sprint("node", i))
			if err != nil {
				assert.ErrorIs(t, err, redistore.ErrHeld)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				return
			}
			leases <- l
		})
	}
	wg.Wait()
	close(leases)
	require.Len(t, leases, 1, "exactly one waiter wins")
	assert.Equal(t, old.Owner().Epoch+1, (<-leases).Owner().Epoch)
}

func TestLeaseJournalIsForItsSession(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	s, _ := e.journals(redistore.JournalOptions{})
	c := ctx(t)
	l, err := s.Acquire(c, "s", "A")
	require.NoError(t, err)
	j := l.Journal()
	require.ErrorContains(t, j.Append(c, "other", 1, step(0, "a")), `the lease is for session "s", not "other"`)
	_, err = j.Load(c, "other")
	require.Error(t, err)
	require.Error(t, j.Delete(c, "other"))

	// The owner may delete its journal and start again at 1, still
	// holding the lease; epochs keep growing.
	require.NoError(t, j.Append(c, "s", 1, step(0, "a")))
	require.NoError(t, j.Delete(c, "s"))
	assert.Empty(t, load(t, j, "s"))
	require.NoError(t, j.Append(c, "s", 1, step(0, "b")))
	require.NoError(t, l.Release(c))
	l2, err := s.Acquire(c, "s", "A")
	require.NoError(t, err)
	assert.Greater(t, l2.Owner().Epoch, l.Owner().Epoch)
	assert.False(t, errors.Is(l2.Renew(c), redistore.ErrFenced))
}

// TestRenewLeases: a node renews its leases in one pipeline; a lost lease
// is reported fenced, the others renewed, also when Redis has just lost
// its scripts; a lease of another store is refused.
func TestRenewLeases(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	const ttl = 10 * time.Second
	s, rdb := e.journals(redistore.JournalOptions{LeaseTTL: ttl})
	other, _ := e.journals(redistore.JournalOptions{LeaseTTL: ttl})
	c := ctx(t)
	var leases []journal.Lease
	for _, id := range []string{"s1", "s2", "s3"} {
		l, err := s.Acquire(c, id, "A")
		require.NoError(t, err)
		leases = append(leases, l)
	}
	foreign, err := other.Acquire(c, "s4", "B")
	require.NoError(t, err)
	leases = append(leases, foreign)

	lease := func(id string) string {
		keys, err := rdb.Keys(c, "continuity:journal:{"+id+"}:lease").Result()
		require.NoError(t, err)
		require.Len(t, keys, 1)
		return keys[0]
	}
	for _, id := range []string{"s1", "s3"} {
		require.NoError(t, rdb.PExpire(c, lease(id), time.Second).Err())
	}
	require.NoError(t, rdb.Del(c, lease("s2")).Err(), "s2's lease is lost")
	require.NoError(t, rdb.ScriptFlush(c).Err(), "Redis restarted without the scripts")

	errs := s.RenewLeases(c, leases)
	require.Len(t, errs, 4)
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], redistore.ErrFenced)
	assert.NoError(t, errs[2])
	assert.ErrorContains(t, errs[3], "another store")
	for _, id := range []string{"s1", "s3"} {
		left, err := rdb.PTTL(c, lease(id)).Result()
		require.NoError(t, err)
		assert.Greater(t, left, 5*time.Second, "%s renewed to the lease TTL", id)
	}
	errs = s.RenewLeases(c, leases[:1])
	assert.NoError(t, errs[0], "with the script loaded again")
}

// TestRenewalNoticesATakeover: a node's renewals (pipelined) find out
// that another node took a session over, and the node ends its copy
// without waiting for the browser's next request.
func TestRenewalNoticesATakeover(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := e.node(t, "a", 600*time.Millisecond) // renews every 200ms
	c := browser(t)
	_, body := get(t, c, a.web.URL+"/")
	require.Contains(t, body, "step 1<")
	require.Equal(t, 1, a.srv.Metrics().LiveSessions)

	raw := e.client()
	leases, err := raw.Keys(ctx(t), "continuity:journal:*:lease").Result()
	require.NoError(t, err)
	require.Len(t, leases, 1)
	require.NoError(t, raw.Set(ctx(t), leases[0], "99/nonce/b", time.Minute).Err(), "node b holds the session now")
	eventually(t, "a ended its copy", func() bool { return a.srv.Metrics().LiveSessions == 0 })
}
