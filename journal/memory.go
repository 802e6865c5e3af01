package journal

import (
	"context"
	"hash/maphash"
	"sync"
)

// memShards spreads the sessions over locks, so that sessions appending
// at once on many CPUs seldom wait for each other.
const memShards = 32

// Memory is the in-memory [Store], the default: each session's entries in
// a slice, kept as given (an Input's Form is not copied or encoded). It
// enforces its [Limits] per session. The zero value is not usable; make
// one with [NewMemory].
type Memory struct {
	limits Limits
	seed   maphash.Seed
	shards [memShards]memShard
}

type memShard struct {
	mu       sync.Mutex
	sessions map[string]*memJournal
}

type memJournal struct {
	entries []Entry
	bytes   int64
}

// NewMemory returns an empty in-memory store with the given caps per
// session.
func NewMemory(l Limits) *Memory {
	m := &Memory{limits: l.resolve(), seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].sessions = make(map[string]*memJournal)
	}
	return m
}

func (m *Memory) shard(session string) *memShard {
	return &m.shards[maphash.String(m.seed, session)%memShards]
}

// Append implements [Store].
func (m *Memory) Append(_ context.Context, session string, seq uint64, e Entry) error {
	sh := m.shard(session)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	j := sh.sessions[session]
	n := 0
	if j != nil {
		n = len(j.entries)
	}
	if seq != uint64(n)+1 {
		return ErrConflict
	}
	var have int64
	if j != nil {
		have = j.bytes
	}
	size := int64(e.Size())
	if (m.limits.MaxEntries > 0 && n+1 > m.limits.MaxEntries) || (m.limits.MaxBytes > 0 && have+size > m.limits.MaxBytes) {
		return ErrFull
	}
	if j == nil {
		j = &memJournal{}
		sh.sessions[session] = j
	}
	j.entries = append(j.entries, e)
	j.bytes += size
	return nil
}

// Load implements [Store]. It returns a copy of the session's list (the
// entries' Form and Value are shared).
func (m *Memory) Load(_ context.Context, session string) ([]Entry, error) {
	sh := m.shard(session)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	j := sh.sessions[session]
	if j == nil {
		return nil, nil
	}
	return append([]Entry(nil), j.entries...), nil
}

// Delete implements [Store].
func (m *Memory) Delete(_ context.Context, session string) error {
	sh := m.shard(session)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.sessions, session)
	return nil
}

// Sessions is the number of sessions whose journals the store holds.
func (m *Memory) Sessions() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += len(sh.sessions)
		sh.mu.Unlock()
	}
	return n
}

// Len is the number of entries, and the bytes they count for, in the
// session's journal.
func (m *Memory) Len(session string) (entries int, bytes int64) {
	sh := m.shard(session)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if j := sh.sessions[session]; j != nil {
		return len(j.entries), j.bytes
	}
	return 0, 0
}
