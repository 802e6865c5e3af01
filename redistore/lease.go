package redistore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/continuity-go/continuity/journal"
)

// An Owner is the node holding a session's lease.
type Owner struct {
	// Node is the name the holder gave [JournalStore.Acquire].
	Node string
	// Epoch is the lease's fencing epoch: every acquisition of the
	// session's lease has a higher one than the acquisitions before it.
	Epoch uint64
	// TTL is what was left of the lease when Redis was asked, unless
	// renewed.
	TTL time.Duration
}

// String names the owner as the errors show it.
func (o Owner) String() string {
	return fmt.Sprintf("node %q (epoch %d)", o.Node, o.Epoch)
}

// A Lease is a node's exclusive right to write a session's journal,
// fenced: the append script refuses an append that does not carry the
// lease's token and epoch, so a node that was paused or cut off past its
// lease (and may have been replaced) cannot write, even if it does not
// know yet. Its next append (or renewal) returns [ErrFenced].
//
// Renew the lease at a third of its TTL while the session runs on this
// node; Release it when the node drains, once the session's current step
// is answered, so that another node takes the session at once. The
// guarantee rests on Redis: lease TTLs run on the Redis host's wall clock
// (keep it steady, and TTLs far above its possible jumps), and a Redis
// that loses acknowledged writes (a crash under appendfsync everysec, a
// failover to a lagging replica) can lose a lease or the last entries with
// it. Fencing covers the journal only: what a step does elsewhere (a
// payment, an e-mail) needs its own idempotency key. A Lease's methods are
// safe for concurrent use.
type Lease struct {
	s       *JournalStore
	session string
	keys    jkeys
	token   string
	owner   Owner
}

// acquireScript: KEYS stream, meta, lease, epoch; ARGV nonce/node, lease
// TTL ms, journal TTL ms. Returns {1, token, epoch} once acquired, or
// {0, holder's token, its PTTL}. The epoch counter starts past the highest
// epoch that appended, so that it grows even if Redis lost the counter.
var acquireScript = redis.NewScript(`
local meta, lease, epk = KEYS[2], KEYS[3], KEYS[4]
local cur = redis.call('GET', lease)
if cur then return {0, cur, redis.call('PTTL', lease)} end
local hw = tonumber(redis.call('HGET', meta, 'ep') or '0')
if tonumber(redis.call('GET', epk) or '0') < hw then
  redis.call('SET', epk, string.format('%d', hw))
end
local ep = redis.call('INCR', epk)
redis.call('PEXPIRE', epk, ARGV[3])
local tok = string.format('%d', ep) .. '/' .. ARGV[1]
redis.call('SET', lease, tok, 'NX', 'PX', ARGV[2])
return {1, tok, ep}
`)

// renewScript: KEYS stream, meta, lease, epoch; ARGV token, epoch, lease
// TTL ms, journal TTL ms. Compare-and-PEXPIRE; it also keeps the journal,
// which a session that waits long between steps does not append to.
var renewScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[3])
if cur ~= ARGV[1] or redis.call('GET', KEYS[4]) ~= ARGV[2] then
  return redis.error_reply('` + errFenced + ` ' .. (cur or ''))
end
redis.call('PEXPIRE', KEYS[3], ARGV[3])
for _, k in ipairs({KEYS[1], KEYS[2], KEYS[4]}) do redis.call('PEXPIRE', k, ARGV[4]) end
return 1
`)

// releaseScript: KEYS lease; ARGV token. Compare-and-DEL.
var releaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then return redis.error_reply('` + errFenced + ` ' .. (cur or '')) end
redis.call('DEL', KEYS[1])
return 1
`)

// parseToken reads a lease token, "<epoch>/<nonce>/<node>". The nonce,
// which makes the token unguessable, is left out.
func parseToken(tok string) Owner {
	f := strings.SplitN(tok, "/", 3)
	if len(f) != 3 {
		return Owner{Node: "?"}
	}
	ep, _ := strconv.ParseUint(f[0], 10, 64)
	return Owner{Node: f[2], Epoch: ep}
}

// Acquire takes the session's lease for node (a name for errors and
// [JournalStore.Owner], 1 to 256 bytes), with the next epoch. A lease that
// was released is taken at once; one held by another node (or this one:
// leases are not reentrant) is waited out, looking again every
// AcquirePoll, until it lapses or ctx is done. Then Acquire returns an
// error wrapping [ErrHeld] and ctx's error.
//
// Call it when a request comes for a session this node does not run: the
// load balancer sent it here because its node is down or draining. Then
// [JournalStore.Load] the journal, replay it, and serve.
func (s *JournalStore) Acquire(ctx context.Context, session, node string) (*Lease, error) {
	var last *Owner // the holder seen last
	for {
		l, held, err := s.tryAcquire(ctx, session, node)
		if l != nil {
			return l, nil
		}
		if err != nil {
			if last != nil && ctx.Err() != nil {
				// The context ran out during a look at the lease.
				return nil, fmt.Errorf("%w: session %q by %s: %w", ErrHeld, session, *last, ctx.Err())
			}
			return nil, err
		}
		last = &held
		t := time.NewTimer(leaseWait(s.poll, held.TTL))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: session %q by %s: %w", ErrHeld, session, held, ctx.Err())
		}
	}
}

// leaseWait is how long Acquire waits before it looks again at a lease
// held with left to go: until just past its end, or poll if sooner.
// Redis reports what is left in whole milliseconds, so under one it says
// 0: one millisecond more, not a whole poll.
func leaseWait(poll, left time.Duration) time.Duration {
	return min(poll, left+time.Millisecond)
}

// TryAcquire is [JournalStore.Acquire] without the wait: it returns an
// error wrapping [ErrHeld] at once if another lease is held.
func (s *JournalStore) TryAcquire(ctx context.Context, session, node string) (*Lease, error) {
	l, held, err := s.tryAcquire(ctx, session, node)
	if err == nil && l == nil {
		err = fmt.Errorf("%w: session %q by %s for %v more", ErrHeld, session, held, held.TTL)
	}
	return l, err
}

// tryAcquire returns the lease, or the holder of the session's.
func (s *JournalStore) tryAcquire(ctx context.Context, session, node string) (*Lease, Owner, error) {
	k, err := s.keys(session)
	if err != nil {
		return nil, Owner{}, err
	}
	if node == "" || len(node) > maxNodeName {
		return nil, Owner{}, fmt.Errorf("redistore: invalid node name %q: want 1 to %d bytes", node, maxNodeName)
	}
	res, err := acquireScript.Run(ctx, s.c, k.list(), rand.Text()+"/"+node, ms(s.leaseTTL), ms(s.ttl)).Slice()
	if err != nil {
		return nil, Owner{}, fmt.Errorf("redistore: %w", err)
	}
	if len(res) != 3 {
		return nil, Owner{}, fmt.Errorf("redistore: unexpected reply %v", res)
	}
	ok, _ := res[0].(int64)
	tok, _ := res[1].(string)
	n, _ := res[2].(int64)
	if ok != 1 {
		o := parseToken(tok)
		o.TTL = time.Duration(max(n, 0)) * time.Millisecond
		return nil, o, nil
	}
	return &Lease{s: s, session: session, keys: k, token: tok, owner: Owner{Node: node, Epoch: uint64(n), TTL: s.leaseTTL}}, Owner{}, nil
}

// Owner reports who holds the session's lease, if anyone.
func (s *JournalStore) Owner(ctx context.Context, session string) (Owner, bool, error) {
	k, err := s.keys(session)
	if err != nil {
		return Owner{}, false, err
	}
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, k.lease)
		ttl = p.PTTL(ctx, k.lease)
		return nil
	})
	switch {
	case errors.Is(get.Err(), redis.Nil):
		return Owner{}, false, nil
	case err != nil:
		return Owner{}, false, fmt.Errorf("redistore: %w", err)
	}
	o := parseToken(get.Val())
	o.TTL = max(ttl.Val(), 0)
	return o, true, nil
}

// Session is the session the lease is for.
func (l *Lease) Session() string { return l.session }

// Owner is this node and the lease's epoch; its TTL is the lease's.
func (l *Lease) Owner() Owner { return l.owner }

// Renew extends the lease by the store's LeaseTTL from now (Redis's
// clock). It returns [ErrFenced] if the lease lapsed or was released: a
// lapsed lease is never revived, because another node may have held the
// session meanwhile. The node may [JournalStore.Acquire] a new lease (a
// new epoch); if the journal's length is still what its copy of the
// session appended, nobody else ran it, and the copy may go on. Renew
// also refreshes the journal's TTL.
func (l *Lease) Renew(ctx context.Context) error {
	err := renewScript.Run(ctx, l.s.c, l.keys.list(), l.token, l.owner.Epoch, ms(l.s.leaseTTL), ms(l.s.ttl)).Err()
	if err != nil {
		return scriptError(err, l.session)
	}
	return nil
}

// RenewLeases renews leases made by this store, in one pipeline (a round
// trip per Redis node rather than one per lease), and returns an error
// for each, in order: nil if renewed, one wrapping [ErrFenced] if the
// lease was lost, another if the lease is not this store's or Redis
// failed. It makes *JournalStore a [journal.BatchRenewer].
func (s *JournalStore) RenewLeases(ctx context.Context, leases []journal.Lease) []error {
	errs := make([]error, len(leases))
	cmds := make([]*redis.Cmd, len(leases))
	pipe := s.c.Pipeline()
	for i, jl := range leases {
		l, ok := jl.(*Lease)
		if !ok || l.s != s {
			errs[i] = errors.New("redistore: RenewLeases: a lease of another store")
			continue
		}
		cmds[i] = renewScript.EvalSha(ctx, pipe, l.keys.list(), l.token, l.owner.Epoch, ms(s.leaseTTL), ms(s.ttl))
	}
	_, _ = pipe.Exec(ctx) // each command has its own error
	for i, c := range cmds {
		if c == nil {
			continue
		}
		err := c.Err()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			err = leases[i].Renew(ctx) // Redis does not have the script yet: Run loads it
		} else if err != nil {
			err = scriptError(err, leases[i].(*Lease).session)
		}
		errs[i] = err
	}
	return errs
}

var _ journal.BatchRenewer = (*JournalStore)(nil)

// Release gives the lease up, so that another node acquires the session
// at once: call it when draining, once the session's current step is
// answered and its input journaled. It returns [ErrFenced] (and changes
// nothing) if the lease had lapsed or another node held it by then.
// After Release the lease's journal refuses appends.
func (l *Lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.s.c, []string{l.keys.lease}, l.token).Err(); err != nil {
		return scriptError(err, l.session)
	}
	return nil
}

// Journal returns the [journal.Store] of the lease's session, fenced by
// the lease: Append and Delete succeed only while the lease is held
// (else [ErrFenced]); appends wait as the store's Durable says. It serves
// no other session (an error says so).
func (l *Lease) Journal() journal.Store { return l.JournalWith(l.s.durable) }

// DurableJournal is [Lease.Journal] with appends that wait as the store's
// JournalOptions.DurableFlows says: the journal of a flow that asked for
// durable steps (request.Request.Durable). It makes *Lease a
// [journal.DurableLease].
func (l *Lease) DurableJournal() journal.Store { return l.JournalWith(l.s.durableFlows) }

var _ journal.DurableLease = (*Lease)(nil)

// JournalWith is [Lease.Journal] with appends that wait as d says: a flow
// that wants each step on disk before it is answered.
func (l *Lease) JournalWith(d Durability) journal.Store {
	return &leaseJournal{l: l, d: d}
}

// leaseJournal is a lease's fenced view of the store.
type leaseJournal struct {
	l *Lease
	d Durability
}

func (j *leaseJournal) check(session string) error {
	if session != j.l.session {
		return fmt.Errorf("redistore: the lease is for session %q, not %q", j.l.session, session)
	}
	return nil
}

func (j *leaseJournal) Append(ctx context.Context, session string, seq uint64, e journal.Entry) error {
	if err := j.check(session); err != nil {
		return err
	}
	if j.d.enabled() {
		if err := j.l.s.durableClient(); err != nil {
			return err
		}
	}
	return j.l.s.append(ctx, session, j.l.token, j.l.owner.Epoch, j.d, seq, &e)
}

func (j *leaseJournal) Load(ctx context.Context, session string) ([]journal.Entry, error) {
	if err := j.check(session); err != nil {
		return nil, err
	}
	return j.l.s.Load(ctx, session)
}

func (j *leaseJournal) Delete(ctx context.Context, session string) error {
	if err := j.check(session); err != nil {
		return err
	}
	return j.l.s.delete(ctx, session, j.l.token, j.l.owner.Epoch)
}

// AcquireLease is [JournalStore.Acquire] as [journal.Leaser] has it, so
// that continuity's servers take sessions over through the store.
func (s *JournalStore) AcquireLease(ctx context.Context, session, node string) (journal.Lease, error) {
	l, err := s.Acquire(ctx, session, node)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// LeaseTTL is how long a lease lasts unless renewed (JournalOptions'
// LeaseTTL).
func (s *JournalStore) LeaseTTL() time.Duration { return s.leaseTTL }

var _ journal.Leaser = (*JournalStore)(nil)
