package redistore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/continuity-go/continuity/journal"
)

// Defaults for the zero values of [JournalOptions] and [Durability].
const (
	DefaultJournalTTL     = 24 * time.Hour
	DefaultLeaseTTL       = 15 * time.Second
	DefaultAcquirePoll    = 50 * time.Millisecond
	DefaultDurableTimeout = time.Second
	maxSessionKey         = 256
	maxNodeName           = 256
)

// Errors of the journal store and its leases, besides [journal.ErrConflict]
// and [journal.ErrFull].
var (
	// ErrFenced: the caller does not hold the session's lease (it lapsed,
	// was released, or another node took the session over), so the append,
	// renewal or release was refused and changed nothing. A node that gets
	// it for a session must stop running its copy of the session: another
	// node may be running it now. The error's text names the holder, if
	// any, by node and epoch.
	ErrFenced = journal.ErrFenced
	// ErrHeld: another node holds the session's lease ([JournalStore.TryAcquire],
	// or [JournalStore.Acquire] once its context is done; then the error
	// also wraps the context's error).
	ErrHeld = errors.New("redistore: session lease held by another node")
	// ErrNotDurable: the entry WAS appended (the next append takes the
	// next sequence number), but Redis did not confirm that it was
	// persisted as the [Durability] asked, within its Timeout, or cannot
	// (a Redis before 7.2 has no WAITAOF). The error says which.
	ErrNotDurable = journal.ErrNotDurable
)

// JournalOptions configure a [JournalStore]. The zero value is the
// default.
type JournalOptions struct {
	// Prefix starts every key of the store. Default "continuity:"; it must
	// not hold "{" or "}".
	Prefix string
	// TTL frees a session's journal (and its epoch counter) after this
	// long without an append or a lease renewal: the session's node died
	// and no request came back for it. Default 24 hours; it must be longer
	// than LeaseTTL.
	TTL time.Duration
	// Limits are the caps per session, as in [journal.Memory]: an append
	// beyond them returns [journal.ErrFull]. Zero values are the journal
	// package's defaults (1,000 entries, 1 MiB as counted by
	// [journal.Entry.Size]).
	Limits journal.Limits
	// LeaseTTL is how long a lease lasts unless renewed: how long a
	// session whose node died (without releasing it) waits before another
	// node may take it. Default 15s. Renew at a third of it.
	LeaseTTL time.Duration
	// AcquirePoll is how often [JournalStore.Acquire] looks again at a
	// lease held by another node: how soon it notices a release. Default
	// 50ms.
	AcquirePoll time.Duration
	// Durable is what every append through the store, and through its
	// leases' [Lease.Journal], waits for. Default: nothing beyond Redis's
	// reply (see [Durability]). [Lease.JournalWith] chooses per flow.
	Durable Durability
	// DurableFlows is what the appends of a flow that asks for durable
	// steps (request.Request.Durable) wait for, through
	// [Lease.DurableJournal]. Default: Durability{Local: true}.
	DurableFlows Durability
}

// Durability is what an append waits for, after Redis accepted it and
// before it returns. The zero value waits for nothing more: with Redis's
// default appendfsync everysec, about a second of accepted appends can be
// lost if Redis itself crashes (not when a node crashes).
//
// Redis 7.2 and later confirm both with WAITAOF. On an older Redis
// (Debian 12 ships 7.0.15), Local is confirmed only when the server runs
// with appendonly yes and appendfsync always (it then writes the append to
// disk before it answers; checked with CONFIG GET on each durable append),
// and Replicas with WAIT, which says that replicas received the append,
// not that they wrote it to disk. When it cannot confirm, the append
// returns an error wrapping [ErrNotDurable].
//
// Durable appends need a single Redis (a [redis.Client], including a
// failover client): WAITAOF and WAIT concern the connection that wrote,
// which a cluster or ring client does not pin.
type Durability struct {
	// Local waits until the append is in the Redis primary's append-only
	// file on disk (WAITAOF 1 0).
	Local bool
	// Replicas waits until this many replicas have the append (WAITAOF 0 n:
	// on their disks; WAIT n before Redis 7.2: received).
	Replicas int
	// Timeout bounds the wait. Default 1s.
	Timeout time.Duration
}

func (d Durability) enabled() bool { return d.Local || d.Replicas > 0 }

// A JournalStore keeps the replay journals of sessions in Redis, for
// every node of a deployment: one Redis stream per session, whose entry
// IDs 0-1, 0-2, … are the journal's sequence numbers, so that a position
// can be written only once. Each append is one Lua script that checks,
// atomically, that the caller holds the session's lease (token and epoch),
// that the sequence number is next and that the caps allow it, then adds
// the entry (XADD with the explicit ID) and refreshes the session's TTL.
// Append returns once Redis has accepted the entry (and, with a
// [Durability], once it is persisted as asked).
//
// The store's own methods implement [journal.Store] for sessions that no
// node leases: a single-node deployment, or tests. Once a session is
// leased ([JournalStore.Acquire]), only its holder writes, through
// [Lease.Journal]; the store's Append and Delete then return [ErrFenced].
//
// A session key is 1 to 256 bytes, without "{" or "}": every key of one
// session carries the hash tag {session}, so that each script touches one
// hash slot, as Redis Cluster requires. The zero value
// is not usable; call [NewJournalStore]. A JournalStore starts no
// goroutine and needs no Close.
type JournalStore struct {
	c          redis.UniversalClient
	prefix     string
	ttl        time.Duration
	maxEntries int
	maxBytes   int64
	leaseTTL   time.Duration
	poll       time.Duration
	durable    Durability
	// durableFlows: what the journals of flows that ask for durable steps
	// wait for.
	durableFlows Durability

	origin string        // with calls, names each append for go-redis's retries
	calls  atomic.Uint64 // appends made
	aof    atomic.Int32  // WAITAOF: 0 not probed, 1 supported, 2 not
}

var _ journal.Store = (*JournalStore)(nil)

// NewJournalStore returns a store keeping journals in Redis through c,
// which the caller closes when done with the store.
func NewJournalStore(c redis.UniversalClient, o JournalOptions) (*JournalStore, error) {
	if c == nil {
		return nil, errors.New("redistore: NewJournalStore: nil client")
	}
	s := &JournalStore{
		c:          c,
		prefix:     o.Prefix,
		ttl:        o.TTL,
		maxEntries: o.Limits.MaxEntries,
		maxBytes:   o.Limits.MaxBytes,
		leaseTTL:   o.LeaseTTL,
		poll:       o.AcquirePoll,
		durable:    o.Durable,
		origin:     rand.Text(),
	}
	s.durableFlows = o.DurableFlows
	if s.durableFlows == (Durability{}) {
		s.durableFlows = Durability{Local: true}
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if strings.ContainsAny(s.prefix, "{}") {
		return nil, fmt.Errorf("redistore: prefix %q holds a brace (it would change the keys' hash tag)", s.prefix)
	}
	if s.ttl <= 0 {
		s.ttl = DefaultJournalTTL
	}
	if s.maxEntries == 0 {
		s.maxEntries = journal.DefaultMaxEntries
	}
	if s.maxBytes == 0 {
		s.maxBytes = journal.DefaultMaxBytes
	}
	if s.leaseTTL <= 0 {
		s.leaseTTL = DefaultLeaseTTL
	}
	if s.ttl <= s.leaseTTL {
		return nil, fmt.Errorf("redistore: journal TTL %v must be longer than the lease TTL %v", s.ttl, s.leaseTTL)
	}
	if s.poll <= 0 {
		s.poll = DefaultAcquirePoll
	}
	if s.durable.enabled() {
		if err := s.durableClient(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// jkeys are the Redis keys of one session; all share the hash tag
// {session}.
type jkeys struct {
	stream string // the entries, IDs 0-<seq>
	meta   string // hash: b bytes held, ep highest epoch that appended, c last append's call
	lease  string // "<epoch>/<nonce>/<node>", with a PX TTL
	epoch  string // counter, INCR on each acquisition: the fencing token
}

func (s *JournalStore) keys(session string) (jkeys, error) {
	if session == "" || len(session) > maxSessionKey || strings.ContainsAny(session, "{}") {
		return jkeys{}, fmt.Errorf("redistore: invalid journal session key %q: want 1 to %d bytes, without braces", session, maxSessionKey)
	}
	base := s.prefix + "journal:{" + session + "}:"
	return jkeys{stream: base + "j", meta: base + "m", lease: base + "lease", epoch: base + "epoch"}, nil
}

func (k jkeys) list() []string { return []string{k.stream, k.meta, k.lease, k.epoch} }

// The scripts refuse with error replies starting with these words.
const (
	errFenced   = "FENCED"
	errConflict = "CONFLICT"
)

// luaFence defines fence(lease, epoch, meta, tok, ep): nil if a caller
// with lease token tok and epoch ep may write, else the FENCED error
// reply. tok "" (epoch 0) is a caller without a lease, which may write
// only while no lease is held. The meta hash keeps the highest epoch that
// appended, so that a writer of an older epoch stays out even if the
// epoch counter was lost.
const luaFence = `
local function fence(lease, epk, meta, tok, ep)
  local cur = redis.call('GET', lease)
  if tok == '' then
    if cur then return redis.error_reply('` + errFenced + ` ' .. cur) end
  else
    if cur ~= tok then return redis.error_reply('` + errFenced + ` ' .. (cur or '')) end
    if tonumber(redis.call('GET', epk) or '0') ~= ep then
      return redis.error_reply('` + errFenced + ` ' .. cur)
    end
  end
  if tonumber(redis.call('HGET', meta, 'ep') or '0') > ep then
    return redis.error_reply('` + errFenced + ` ' .. (cur or ''))
  end
  return nil
end
`

// appendScript: KEYS stream, meta, lease, epoch; ARGV seq, encoded
// entry, size, max entries, max bytes (negative: none), TTL ms, lease
// token, epoch, call. A call that names the last append's call is a
// retry of it (go-redis resends a command whose reply was lost) and
// succeeds without appending again.
var appendScript = redis.NewScript(luaFence + `
local j, m, lease, epk = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local seq, size, ep = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[8])
local maxn, maxb, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local refused = fence(lease, epk, m, ARGV[7], ep)
if refused then return refused end
local n = redis.call('XLEN', j)
if seq ~= n + 1 then
  if seq == n and redis.call('HGET', m, 'c') == ARGV[9] then return 0 end
  return redis.error_reply('` + errConflict + ` ' .. n)
end
local bytes = tonumber(redis.call('HGET', m, 'b') or '0')
if (maxn >= 0 and n + 1 > maxn) or (maxb >= 0 and bytes + size > maxb) then
  return redis.error_reply('` + errFull + `')
end
redis.call('XADD', j, '0-' .. ARGV[1], 'e', ARGV[2], 'ep', ARGV[8])
redis.call('HSET', m, 'b', string.format('%d', bytes + size), 'ep', ARGV[8], 'c', ARGV[9])
redis.call('PEXPIRE', j, ttl)
redis.call('PEXPIRE', m, ttl)
if ep > 0 then redis.call('PEXPIRE', epk, ttl) end
return 1
`)

// deleteScript: KEYS stream, meta, lease, epoch; ARGV lease token, epoch.
// It keeps the highest epoch that appended.
var deleteScript = redis.NewScript(luaFence + `
local refused = fence(KEYS[3], KEYS[4], KEYS[2], ARGV[1], tonumber(ARGV[2]))
if refused then return refused end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], 'b', 'c')
return 1
`)

// scriptError maps a script's refusal to the package's errors.
func scriptError(err error, session string) error {
	var re redis.Error
	if !errors.As(err, &re) {
		return fmt.Errorf("redistore: %w", err)
	}
	// Redis prefixes the scripts' bare messages with "ERR ".
	msg := strings.TrimPrefix(err.Error(), "ERR ")
	word, rest, _ := strings.Cut(msg, " ")
	switch word {
	case errFenced:
		if rest == "" {
			return fmt.Errorf("%w: session %q is held by no node", ErrFenced, session)
		}
		return fmt.Errorf("%w: session %q is held by %s", ErrFenced, session, parseToken(rest))
	case errConflict:
		return fmt.Errorf("%w: session %q has %s entries", journal.ErrConflict, session, rest)
	case errFull:
		return journal.ErrFull
	}
	return fmt.Errorf("redistore: %w", err)
}

// Append implements [journal.Store] for a session that no node leases: it
// returns [ErrFenced] while a lease is held, or once a leased node has
// appended to the session. If it returns another error than those of
// [journal.Store], ErrFenced or ErrNotDurable (Redis unreachable, ctx
// done), the entry may or may not have been appended: [JournalStore.Load]
// tells.
func (s *JournalStore) Append(ctx context.Context, session string, seq uint64, e journal.Entry) error {
	return s.append(ctx, session, "", 0, s.durable, seq, &e)
}

func (s *JournalStore) append(ctx context.Context, session, tok string, ep uint64, d Durability, seq uint64, e *journal.Entry) error {
	k, err := s.keys(session)
	if err != nil {
		return err
	}
	if seq == 0 {
		return fmt.Errorf("%w: sequence numbers start at 1", journal.ErrConflict)
	}
	call := s.origin + strconv.FormatUint(s.calls.Add(1), 36)
	args := []any{seq, encodeEntry(e), e.Size(), s.maxEntries, s.maxBytes, ms(s.ttl), tok, ep, call}
	if d.enabled() {
		return s.appendDurable(ctx, session, k, args, d)
	}
	if err := appendScript.Run(ctx, s.c, k.list(), args...).Err(); err != nil {
		return scriptError(err, session)
	}
	return nil
}

// Load implements [journal.Store]. Reading is not fenced: any node may
// read any session's journal.
func (s *JournalStore) Load(ctx context.Context, session string) ([]journal.Entry, error) {
	k, err := s.keys(session)
	if err != nil {
		return nil, err
	}
	msgs, err := s.c.XRange(ctx, k.stream, "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("redistore: %w", err)
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	out := make([]journal.Entry, len(msgs))
	for i, m := range msgs {
		v, _ := m.Values["e"].(string)
		if out[i], err = decodeEntry([]byte(v)); err != nil {
			return nil, fmt.Errorf("redistore: journal of session %q, entry %s: %w", session, m.ID, err)
		}
	}
	return out, nil
}

// Delete implements [journal.Store] for a session that no node leases
// (it returns [ErrFenced] while one does). The session's epoch counter
// stays, so that epochs keep growing.
func (s *JournalStore) Delete(ctx context.Context, session string) error {
	return s.delete(ctx, session, "", 0)
}

func (s *JournalStore) delete(ctx context.Context, session, tok string, ep uint64) error {
	k, err := s.keys(session)
	if err != nil {
		return err
	}
	if err := deleteScript.Run(ctx, s.c, k.list(), tok, ep).Err(); err != nil {
		return scriptError(err, session)
	}
	return nil
}
