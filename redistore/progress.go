package redistore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/continuity-go/continuity/progress"
)

// Defaults for the zero values of [ProgressOptions].
const (
	DefaultPrefix        = "continuity:"
	DefaultIdleTTL       = 24 * time.Hour
	DefaultHistory       = 16
	DefaultMaxScopeBytes = 1 << 20
	DefaultPollInterval  = 10 * time.Second
)

// ErrClosed is returned by the methods of a [ProgressStore] or
// [TopicTransport] that need its subscription after its Close.
var ErrClosed = errors.New("redistore: closed")

// ProgressOptions configure a [ProgressStore]. The zero value is the
// default.
type ProgressOptions struct {
	// Prefix starts every key and channel name of the store, so that
	// several deployments (or tests) can share one Redis. Default
	// "continuity:"; it must not hold "{" or "}".
	Prefix string
	// Retention is how long a finished meter stays readable before Redis
	// frees it. Default 5 minutes ([progress.DefaultRetention]); negative:
	// IdleTTL (a session's meters are freed when it ends anyway).
	Retention time.Duration
	// IdleTTL frees a meter in progress that has not changed for this
	// long: one whose node died, or whose session ended without freeing
	// it. Default 24 hours.
	IdleTTL time.Duration
	// MaxPerScope bounds the meters one session holds; creating one more
	// frees its oldest finished meter, or fails with [progress.ErrTooMany].
	// Default 64 ([progress.DefaultMaxPerScope]).
	MaxPerScope int
	// History is how many recent states each meter keeps for watchers that
	// fall behind. Default 16; at least 1.
	History int
	// MaxScopeBytes bounds what one session's meters hold in Redis, their
	// encoded states with their history: a new meter that does not fit
	// frees the session's finished meters, oldest first, or fails with
	// [progress.ErrFull]; an update that does not fit drops the meter's
	// older states, then is recorded without its new text (ErrFull).
	// Default 1 MiB. Redis's own maxmemory bounds the whole.
	MaxScopeBytes int
	// PollInterval is how often a waiting watcher checks Redis even
	// though no change was announced: a safety net for announcements
	// lost while the pub/sub connection was down, and how soon a watcher
	// learns that its meter expired. Default 10s.
	PollInterval time.Duration
}

// A ProgressStore is a [progress.Store] in Redis: give it to several
// servers' progress.Options.Store and they share their meters. Versions
// come from a counter per session, seeded from the Redis clock, so they
// grow even across the loss of a session's keys. Changes are announced on
// one pub/sub channel; each store subscribes once, on the first waiting
// watcher, and dispatches to its watchers in memory.
//
// The zero value is not usable; call [NewProgressStore]. Call
// [ProgressStore.Close] when done: it stops the subscription.
type ProgressStore struct {
	c         redis.UniversalClient
	prefix    string
	channel   string
	retention time.Duration
	idle      time.Duration
	maxScope  int
	history   int
	maxBytes  int
	poll      time.Duration

	waiting atomic.Int64
	sub     subscriber

	mu      sync.Mutex
	watches map[string]map[string]*wake // scope → key → wake
}

// wake is closed when a meter may have changed.
type wake struct {
	ch chan struct{}
	n  int // watchers holding ch
}

var _ progress.Store = (*ProgressStore)(nil)

// NewProgressStore returns a store keeping meters in Redis through c,
// which the caller closes after the store.
func NewProgressStore(c redis.UniversalClient, o ProgressOptions) (*ProgressStore, error) {
	if c == nil {
		return nil, errors.New("redistore: NewProgressStore: nil client")
	}
	s := &ProgressStore{
		c:         c,
		prefix:    o.Prefix,
		retention: o.Retention,
		idle:      o.IdleTTL,
		maxScope:  o.MaxPerScope,
		history:   o.History,
		maxBytes:  o.MaxScopeBytes,
		poll:      o.PollInterval,
		watches:   map[string]map[string]*wake{},
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if strings.ContainsAny(s.prefix, "{}") {
		return nil, fmt.Errorf("redistore: prefix %q holds a brace (it would change the keys' hash tag)", s.prefix)
	}
	if s.retention == 0 {
		s.retention = progress.DefaultRetention
	}
	if s.idle <= 0 {
		s.idle = DefaultIdleTTL
	}
	if s.retention < 0 {
		s.retention = s.idle
	}
	if s.maxScope <= 0 {
		s.maxScope = progress.DefaultMaxPerScope
	}
	if s.history <= 0 {
		s.history = DefaultHistory
	}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultMaxScopeBytes
	}
	if s.poll <= 0 {
		s.poll = DefaultPollInterval
	}
	s.channel = s.prefix + "progress"
	s.sub = subscriber{c: c, channel: s.channel, onMessage: s.dispatch, onSubscribed: s.wakeAll}
	return s, nil
}

// Close stops the store's subscription and waits for its goroutine to
// exit. Watchers waiting in Changes return [ErrClosed]; the other methods
// go on working. Close is idempotent.
func (s *ProgressStore) Close() error {
	s.sub.close()
	s.wakeAll()
	return nil
}

// Waiting is the number of watchers blocked in Changes now.
func (s *ProgressStore) Waiting() int { return int(s.waiting.Load()) }

// keys are the Redis keys of one meter's scope. All share the hash tag
// {scope}.
type keys struct {
	idx, fin, seq string // hash key → bytes held; zset key → version finished; version counter
	meters        string // the prefix of the meters' lists
}

func (s *ProgressStore) keys(scope string) keys {
	base := s.prefix + "progress:{" + scope + "}:"
	return keys{idx: base + "idx", fin: base + "fin", seq: base + "seq", meters: base + "m:"}
}

// The scripts report refusals as error replies with these messages.
const (
	errRunning  = "RUNNING"
	errTooMany  = "TOOMANY"
	errFull     = "FULL"
	errNotFound = "NOTFOUND"
)

// luaNextVersion defines nextver(seq): the next version of a scope. A new
// counter starts at the Redis clock in microseconds, so a scope whose keys
// expired and came back never reuses a version a client may still hold.
// Versions stay below 2^53 (exact in JavaScript and Lua) until the 23rd
// century. Lua's tostring would print them in exponent form: use fmtnum.
const luaNextVersion = `
local function nextver(seq)
  if redis.call('EXISTS', seq) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', seq, t[1] .. string.format('%06d', tonumber(t[2])))
  end
  return redis.call('INCR', seq)
end
local function fmtnum(n) return string.format('%d', n) end
local function drop(idx, fin, mp, k)
  redis.call('DEL', mp .. k)
  redis.call('HDEL', idx, k)
  redis.call('ZREM', fin, k)
end
`

// createScript: KEYS idx, fin, seq, meter; ARGV key, meters prefix,
// state without its version, maxPerScope, maxScopeBytes, idle ms, scope
// ms, channel, message. Returns the version.
var createScript = redis.NewScript(luaNextVersion + `
local idx, fin, seq, m = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local key, mp = ARGV[1], ARGV[2]
if redis.call('EXISTS', m) == 1 and not redis.call('ZSCORE', fin, key) then
  return redis.error_reply('` + errRunning + `')
end
drop(idx, fin, mp, key)
-- Count what the scope holds, forgetting meters whose list expired.
local n, total = 0, 0
local all = redis.call('HGETALL', idx)
for i = 1, #all, 2 do
  if redis.call('EXISTS', mp .. all[i]) == 0 then
    drop(idx, fin, mp, all[i])
  else
    n = n + 1
    total = total + tonumber(all[i + 1])
  end
end
local elem = '0 ' .. ARGV[3]
local size = #elem + 16
local maxn, maxb = tonumber(ARGV[4]), tonumber(ARGV[5])
while n >= maxn or total + size > maxb do
  local v = redis.call('ZRANGE', fin, 0, 0)
  if #v == 0 then
    if n >= maxn then return redis.error_reply('` + errTooMany + `') end
    return redis.error_reply('` + errFull + `')
  end
  total = total - tonumber(redis.call('HGET', idx, v[1]) or '0')
  n = n - 1
  drop(idx, fin, mp, v[1])
end
local ver = nextver(seq)
elem = fmtnum(ver) .. ' ' .. ARGV[3]
redis.call('RPUSH', m, elem)
redis.call('HSET', idx, key, #elem)
redis.call('PEXPIRE', m, ARGV[6])
redis.call('PEXPIRE', idx, ARGV[7])
redis.call('PEXPIRE', fin, ARGV[7])
redis.call('PEXPIRE', seq, ARGV[7])
redis.call('PUBLISH', ARGV[8], ARGV[9])
return ver
`)

// updateScript: KEYS idx, fin, seq, meter; ARGV key, meters prefix,
// numbers ("total count inprogress"), text, history, maxScopeBytes, idle
// ms, retention ms, scope ms, channel, message. Returns {version, "FULL"
// or ""}.
var updateScript = redis.NewScript(luaNextVersion + `
local idx, fin, seq, m = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local key, mp, nums, text = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local hist, maxb = tonumber(ARGV[5]), tonumber(ARGV[6])
local len = redis.call('LLEN', m)
if len == 0 then
  redis.call('HDEL', idx, key)
  redis.call('ZREM', fin, key)
  return redis.error_reply('` + errNotFound + `')
end
local ver = fmtnum(nextver(seq))
local held = tonumber(redis.call('HGET', idx, key) or '0')
local others = -held
for _, b in ipairs(redis.call('HVALS', idx)) do others = others + tonumber(b) end
local elem = ver .. ' ' .. nums .. ' ' .. text
if others + held + #elem > maxb then
  -- Before anything is dropped, forget meters whose list expired.
  local all = redis.call('HGETALL', idx)
  for i = 1, #all, 2 do
    if all[i] ~= key and redis.call('EXISTS', mp .. all[i]) == 0 then
      others = others - tonumber(all[i + 1])
      drop(idx, fin, mp, all[i])
    end
  end
end
local full = ''
if others + #elem > maxb then
  -- Even alone the new state does not fit: it replaces the last one,
  -- with the text the meter had.
  local last = redis.call('LINDEX', m, -1)
  local _, _, old = string.find(last, '^%d+ %-?%d+ %-?%d+ [01] (.*)$')
  old = old or ''
  if old ~= text then full = '` + errFull + `' end
  elem = ver .. ' ' .. nums .. ' ' .. old
  redis.call('LSET', m, -1, elem)
  held = held - #last + #elem
  while len > 1 and others + held > maxb do
    held = held - #redis.call('LPOP', m)
    len = len - 1
  end
else
  while len > 0 and (len >= hist or others + held + #elem > maxb) do
    held = held - #redis.call('LPOP', m)
    len = len - 1
  end
  redis.call('RPUSH', m, elem)
  held = held + #elem
end
redis.call('HSET', idx, key, held)
local finished = string.sub(nums, -1) == '0'
if not finished then
  redis.call('PEXPIRE', m, ARGV[7])
elseif redis.call('ZADD', fin, 'NX', ver, key) == 1 then
  redis.call('PEXPIRE', m, ARGV[8])
end
redis.call('PEXPIRE', idx, ARGV[9])
redis.call('PEXPIRE', fin, ARGV[9])
redis.call('PEXPIRE', seq, ARGV[9])
redis.call('PUBLISH', ARGV[10], ARGV[11])
return {ver, full}
`)

// sinceScript: KEYS meter; ARGV after. Returns the states after it (the
// current one alone if after is newer than it), or nil if there is no
// meter.
var sinceScript = redis.NewScript(`
local all = redis.call('LRANGE', KEYS[1], 0, -1)
if #all == 0 then return false end
local after = tonumber(ARGV[1])
local function ver(e) return tonumber(string.match(e, '^%d+')) end
local last = ver(all[#all])
if last == after then return {} end
if last < after then return {all[#all]} end
local i = #all
while i > 1 and ver(all[i - 1]) > after do i = i - 1 end
local out = {}
for j = i, #all do out[#out + 1] = all[j] end
return out
`)

// deleteScopeScript: KEYS idx, fin; ARGV meters prefix, channel, message.
var deleteScopeScript = redis.NewScript(`
for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
  redis.call('DEL', ARGV[1] .. k)
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`)

// text is the part of a state that the store may keep from an earlier one
// when a new one does not fit: everything but the numbers.
type text struct {
	Name     string   `json:"n"`
	ID       string   `json:"i,omitempty"`
	Status   string   `json:"s,omitempty"`
	Messages []string `json:"m,omitempty"`
}

// numbers is the part of a state that is always recorded, "total count
// inprogress", as the scripts read it.
func numbers(s *progress.Snapshot) string {
	ip := "0"
	if s.InProgress {
		ip = "1"
	}
	return strconv.Itoa(s.Total) + " " + strconv.Itoa(s.Count) + " " + ip
}

func encodeText(s *progress.Snapshot) (string, error) {
	b, err := json.Marshal(text{Name: s.Name, ID: s.ID, Status: s.Status, Messages: s.Messages})
	return string(b), err
}

// decode parses a stored state: "version total count inprogress text".
func decode(e string) (progress.Snapshot, error) {
	var s progress.Snapshot
	f := strings.SplitN(e, " ", 5)
	if len(f) != 5 {
		return s, fmt.Errorf("redistore: malformed progress state %.40q", e)
	}
	var err1, err2, err3 error
	s.Version, err1 = strconv.ParseUint(f[0], 10, 64)
	s.Total, err2 = strconv.Atoi(f[1])
	s.Count, err3 = strconv.Atoi(f[2])
	s.InProgress = f[3] == "1"
	var t text
	if err := errors.Join(err1, err2, err3, json.Unmarshal([]byte(f[4]), &t)); err != nil {
		return s, fmt.Errorf("redistore: malformed progress state: %w", err)
	}
	s.Name, s.ID, s.Status, s.Messages = t.Name, t.ID, t.Status, t.Messages
	return s, nil
}

// message is the announcement of a change to key in scope ("" for every
// meter of the scope). Names hold no control characters.
func message(scope, key string) string { return scope + "\n" + key }

func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// storeError maps a script's refusal to the progress package's error.
func storeError(err error) error {
	var re redis.Error
	if !errors.As(err, &re) {
		return fmt.Errorf("redistore: %w", err)
	}
	// Redis prefixes the scripts' bare messages with "ERR ".
	switch strings.TrimPrefix(err.Error(), "ERR ") {
	case errRunning:
		return progress.ErrRunning
	case errTooMany:
		return progress.ErrTooMany
	case errFull:
		return progress.ErrFull
	case errNotFound:
		return progress.ErrNotFound
	}
	return fmt.Errorf("redistore: %w", err)
}

// Create implements [progress.Store].
func (s *ProgressStore) Create(ctx context.Context, scope, key string, snap progress.Snapshot) (uint64, error) {
	snap.InProgress = true
	t, err := encodeText(&snap)
	if err != nil {
		return 0, err
	}
	k := s.keys(scope)
	v, err := createScript.Run(ctx, s.c, []string{k.idx, k.fin, k.seq, k.meters + key},
		key, k.meters, numbers(&snap)+" "+t, s.maxScope, s.maxBytes,
		ms(s.idle), ms(max(s.idle, s.retention)), s.channel, message(scope, key)).Uint64()
	if err != nil {
		return 0, storeError(err)
	}
	return v, nil
}

// Update implements [progress.Store].
func (s *ProgressStore) Update(ctx context.Context, scope, key string, snap progress.Snapshot) (uint64, error) {
	t, err := encodeText(&snap)
	if err != nil {
		return 0, err
	}
	k := s.keys(scope)
	res, err := updateScript.Run(ctx, s.c, []string{k.idx, k.fin, k.seq, k.meters + key},
		key, k.meters, numbers(&snap), t, s.history, s.maxBytes,
		ms(s.idle), ms(s.retention), ms(max(s.idle, s.retention)), s.channel, message(scope, key)).Slice()
	if err != nil {
		return 0, storeError(err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redistore: unexpected reply %v", res)
	}
	vs, _ := res[0].(string)
	v, err := strconv.ParseUint(vs, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redistore: unexpected version %v", res[0])
	}
	if full, _ := res[1].(string); full != "" {
		return v, progress.ErrFull
	}
	return v, nil
}

// Get implements [progress.Store].
func (s *ProgressStore) Get(ctx context.Context, scope, key string) (progress.Snapshot, error) {
	e, err := s.c.LIndex(ctx, s.keys(scope).meters+key, -1).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return progress.Snapshot{}, progress.ErrNotFound
	case err != nil:
		return progress.Snapshot{}, fmt.Errorf("redistore: %w", err)
	}
	return decode(e)
}

// since returns the states after version after, as [sinceScript].
func (s *ProgressStore) since(ctx context.Context, scope, key string, after uint64) ([]progress.Snapshot, error) {
	res, err := sinceScript.Run(ctx, s.c, []string{s.keys(scope).meters + key}, after).StringSlice()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, progress.ErrNotFound
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("redistore: %w", err)
	}
	if len(res) == 0 {
		return nil, nil
	}
	out := make([]progress.Snapshot, len(res))
	for i, e := range res {
		if out[i], err = decode(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Changes implements [progress.Store]. A change on any node wakes it
// through Redis pub/sub; it also checks every PollInterval. A version
// after the current one counts as older than every state, as in the
// memory store. After [ProgressStore.Close] it returns [ErrClosed].
func (s *ProgressStore) Changes(ctx context.Context, scope, key string, after uint64) ([]progress.Snapshot, error) {
	for {
		w, err := s.watch(scope, key)
		if err != nil {
			return nil, err
		}
		// Watching before reading: a change announced in between wakes w.
		out, err := s.since(ctx, scope, key, after)
		if err != nil || len(out) > 0 {
			s.unwatch(scope, key, w)
			return out, err
		}
		s.waiting.Add(1)
		timer := time.NewTimer(s.poll)
		select {
		case <-w.ch:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		s.waiting.Add(-1)
		s.unwatch(scope, key, w)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// DeleteScope implements [progress.Store].
func (s *ProgressStore) DeleteScope(ctx context.Context, scope string) error {
	k := s.keys(scope)
	if err := deleteScopeScript.Run(ctx, s.c, []string{k.idx, k.fin}, k.meters, s.channel, message(scope, "")).Err(); err != nil {
		return fmt.Errorf("redistore: %w", err)
	}
	return nil
}

// watch registers a watcher of key in scope, starting the subscription if
// this is the store's first.
func (s *ProgressStore) watch(scope, key string) (*wake, error) {
	if err := s.sub.start(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.watches[scope]
	if m == nil {
		m = map[string]*wake{}
		s.watches[scope] = m
	}
	w := m[key]
	if w == nil {
		w = &wake{ch: make(chan struct{})}
		m[key] = w
	}
	w.n++
	return w, nil
}

func (s *ProgressStore) unwatch(scope, key string, w *wake) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.n--
	if m := s.watches[scope]; w.n == 0 && m[key] == w {
		delete(m, key)
		if len(m) == 0 {
			delete(s.watches, scope)
		}
	}
}

// dispatch wakes the watchers a change announcement concerns.
func (s *ProgressStore) dispatch(msg string) {
	scope, key, ok := strings.Cut(msg, "\n")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.watches[scope]
	if key != "" {
		if w := m[key]; w != nil {
			close(w.ch)
			delete(m, key)
		}
	} else {
		for _, w := range m {
			close(w.ch)
		}
		clear(m)
	}
	if len(m) == 0 {
		delete(s.watches, scope)
	}
}

// wakeAll wakes every watcher: the subscription is (re)established, so
// announcements may have been missed, or the store is closing.
func (s *ProgressStore) wakeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.watches {
		for _, w := range m {
			close(w.ch)
		}
	}
	clear(s.watches)
}
