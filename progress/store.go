package progress

import (
	"container/list"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by [Start] and by stores.
var (
	// ErrRunning: a meter of that name (and progress_id) is already in
	// progress in the session. The running meter is left untouched.
	ErrRunning = errors.New("progress: already running")
	// ErrNotFound: no such meter in the scope (never started, freed after
	// its retention, or its session has ended).
	ErrNotFound = errors.New("progress: no such meter")
	// ErrBadName: the meter name or progress_id is empty, longer than
	// [MaxNameLen], or holds "/", "\", "..", or a control character.
	ErrBadName = errors.New("progress: invalid name")
	// ErrTooMany: the session already holds as many meters as the store
	// allows, all of them still in progress.
	ErrTooMany = errors.New("progress: too many meters in this session")
	// ErrFull: the store holds as many meters, or as many bytes, across
	// all sessions as it allows. Start refuses a new meter with it; an
	// update that would add more text than fits is recorded without that
	// text (its counts and its end still count) and reports it.
	ErrFull = errors.New("progress: store full: too many meters or bytes held across all sessions")
)

// A Snapshot is a meter's state at one moment. Snapshots are values: a
// store hands out copies, and the Messages slice is never modified once it
// is in a snapshot (treat it as read-only).
type Snapshot struct {
	Name       string   // the name the server gave the meter
	ID         string   // the client's progress_id, or ""
	Total      int      // the count at which the work is complete
	Count      int      // how much is done
	Messages   []string // messages added so far, oldest first
	Status     string   // a free-form status line
	InProgress bool     // false once the meter is done
	// Version identifies this state. The store assigns it; it grows with
	// every change, and a store never reuses one (it is the SSE event ID).
	Version uint64
}

// A Store keeps meters, so that the code doing the work (which updates a
// meter) and the status endpoint (which reads it) need not share memory.
// The default is a [MemoryStore]; a store backed by a shared database
// would let several processes serve the same meters.
//
// Meters live in scopes: one per session, named by an opaque random string.
// A meter's key within its scope is its name, plus "/" and the client's
// progress_id when there is one. Implementations must be safe for
// concurrent use.
type Store interface {
	// Create adds a meter, in progress, with state s, and returns the
	// version it assigned. If a meter in progress already has that key,
	// Create changes nothing and returns an error wrapping [ErrRunning]; a
	// finished one is replaced. A store that bounds what it holds returns
	// [ErrTooMany] or [ErrFull] when the meter does not fit.
	Create(ctx context.Context, scope, key string, s Snapshot) (uint64, error)
	// Update records s as the meter's new state and returns the version it
	// assigned (s.Version is ignored). It returns [ErrNotFound] if the
	// meter is gone. A store may free a meter whose new state is not in
	// progress after a retention time of its choosing. A store that cannot
	// hold s's messages and status may record s with the ones the meter
	// had, returning the version it assigned and an error wrapping
	// [ErrFull]; it must still record the rest, an end above all.
	Update(ctx context.Context, scope, key string, s Snapshot) (uint64, error)
	// Get returns the meter's current state, or [ErrNotFound].
	Get(ctx context.Context, scope, key string) (Snapshot, error)
	// Changes returns the states the meter has had after version after,
	// oldest first, waiting until there is at least one, until ctx is done
	// (it then returns ctx.Err()), or until the meter is gone
	// ([ErrNotFound]). A store may remember only the latest few states; the
	// result then skips the older ones, but it always ends with the current
	// state.
	Changes(ctx context.Context, scope, key string, after uint64) ([]Snapshot, error)
	// DeleteScope frees every meter in scope; waiting Changes calls return
	// [ErrNotFound].
	DeleteScope(ctx context.Context, scope string) error
}

// Defaults for the zero values of [MemoryOptions].
const (
	DefaultRetention   = 5 * time.Minute
	DefaultMaxPerScope = 64
	DefaultHistory     = 64
	DefaultMaxMeters   = 10_000
	DefaultMaxBytes    = 64 << 20
)

// MemoryOptions configure a [MemoryStore]. The zero value is the default.
type MemoryOptions struct {
	// Retention is how long a finished meter stays readable before it is
	// freed. Default 5 minutes; negative keeps finished meters until their
	// session ends.
	Retention time.Duration
	// MaxPerScope bounds the meters one session holds. Creating one more
	// frees the oldest finished meter, or fails with [ErrTooMany] if all
	// are in progress. Default 64.
	MaxPerScope int
	// History is how many recent states each meter keeps for watchers that
	// fall behind (an SSE stream resuming from Last-Event-ID, a slow
	// reader). Default 64; at least 1.
	History int
	// MaxMeters bounds the meters held across all sessions, in progress or
	// finished and not yet freed. Creating one more frees the meter that
	// finished first, in whichever session, or fails with [ErrFull] if all
	// are in progress. Default 10,000.
	MaxMeters int
	// MaxBytes bounds the memory the meters hold across all sessions, as
	// the store estimates it: their names, IDs, messages and kept status
	// lines, and a fixed overhead per meter and per kept state. A meter
	// that does not fit frees finished ones as MaxMeters does, or fails
	// with [ErrFull]; an update whose new text does not fit is recorded
	// without it (see [Store]). Default 64 MiB.
	MaxBytes int64
}

// The store's estimate of the memory a meter holds, beyond its text.
const (
	meterOverhead   = 512 // the entry, its map slot, channel and timer
	stateOverhead   = 128 // a Snapshot in the history, and its slot
	messageOverhead = 16  // a message's string header
)

// A MemoryStore keeps meters in this process's memory. Watchers wait on a
// channel that is closed on every change, so a waiting watcher costs no
// goroutine of its own. The zero value is not usable; call
// [NewMemoryStore]. It starts no goroutines (freeing uses timers).
type MemoryStore struct {
	retention time.Duration
	maxScope  int
	history   int
	maxMeters int
	maxBytes  int64

	seq     atomic.Uint64 // last version handed out
	waiting atomic.Int64  // goroutines blocked in Changes
	bytes   atomic.Int64  // the estimate of what the meters held hold

	mu     sync.RWMutex
	scopes map[string]map[string]*entry
	n      int // meters held

	// fmu guards finished and the entries' elem. It is taken after mu and
	// after an entry's mu, never before either.
	fmu      sync.Mutex
	finished list.List // *entry, in the order they finished
}

// entry is one meter. Its fields are guarded by mu, except elem (s.fmu);
// changed is closed (and replaced) on every change, and closed for good
// when the entry is freed.
type entry struct {
	scope, key string
	mu         sync.RWMutex
	hist       []Snapshot // the last states, oldest first; never empty
	changed    chan struct{}
	timer      *time.Timer // frees a finished meter
	bytes      int64       // the store's estimate of what hist holds
	done       bool        // it has finished, so it is in finished
	gone       bool
	elem       *list.Element
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore(o MemoryOptions) *MemoryStore {
	s := &MemoryStore{
		retention: o.Retention,
		maxScope:  o.MaxPerScope,
		history:   o.History,
		maxMeters: o.MaxMeters,
		maxBytes:  o.MaxBytes,
		scopes:    make(map[string]map[string]*entry),
	}
	if s.retention == 0 {
		s.retention = DefaultRetention
	}
	if s.maxScope <= 0 {
		s.maxScope = DefaultMaxPerScope
	}
	if s.history <= 0 {
		s.history = DefaultHistory
	}
	if s.maxMeters <= 0 {
		s.maxMeters = DefaultMaxMeters
	}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultMaxBytes
	}
	return s
}

// Waiting is the number of watchers blocked in Changes now.
func (s *MemoryStore) Waiting() int { return int(s.waiting.Load()) }

// Len is the number of meters held, in every scope.
func (s *MemoryStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// Create implements [Store].
func (s *MemoryStore) Create(_ context.Context, scope, key string, snap Snapshot) (uint64, error) {
	snap.InProgress = true
	size := statesSize(nil, &snap)
	s.mu.Lock()
	defer s.mu.Unlock()
	meters := s.scopes[scope]
	if old := meters[key]; old != nil {
		if old.current().InProgress {
			return 0, ErrRunning
		}
		s.remove(old)
	}
	if len(meters) >= s.maxScope {
		// Free the finished meter that changed least recently.
		var victim *entry
		var oldest uint64
		for _, e := range meters {
			if c := e.current(); !c.InProgress && (victim == nil || c.Version < oldest) {
				victim, oldest = e, c.Version
			}
		}
		if victim == nil {
			return 0, ErrTooMany
		}
		s.remove(victim)
	}
	for s.n >= s.maxMeters || s.bytes.Load()+size > s.maxBytes {
		if !s.evictFinished() {
			return 0, ErrFull
		}
	}
	snap.Version = s.seq.Add(1)
	hist := make([]Snapshot, 1, min(s.history, 8))
	hist[0] = snap
	if meters = s.scopes[scope]; meters == nil {
		meters = make(map[string]*entry)
		s.scopes[scope] = meters
	}
	meters[key] = &entry{scope: scope, key: key, hist: hist, changed: make(chan struct{}), bytes: size}
	s.n++
	s.bytes.Add(size)
	return snap.Version, nil
}

// Update implements [Store].
func (s *MemoryStore) Update(_ context.Context, scope, key string, snap Snapshot) (uint64, error) {
	e := s.lookup(scope, key)
	if e == nil {
		return 0, ErrNotFound
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		return 0, ErrNotFound
	}
	snap.Version = s.seq.Add(1)
	var err error
	kept := e.hist
	if len(kept) >= s.history {
		kept = kept[1:]
	}
	size := statesSize(kept, &snap)
	if grow := size - e.bytes; grow > 0 && s.bytes.Add(grow) > s.maxBytes {
		// It does not fit: the state replaces the last one, with the text
		// the meter had, so that nothing more is held. Only new text is
		// lost, and only that is an error.
		s.bytes.Add(-grow)
		last := &e.hist[len(e.hist)-1]
		if snap.Name != last.Name || snap.ID != last.ID || snap.Status != last.Status || !slices.Equal(snap.Messages, last.Messages) {
			snap.Name, snap.ID, snap.Status, snap.Messages = last.Name, last.ID, last.Status, last.Messages
			err = ErrFull
		}
		*last = snap
	} else {
		if grow <= 0 {
			s.bytes.Add(grow)
		}
		if len(e.hist) < s.history {
			e.hist = append(e.hist, snap)
		} else {
			copy(e.hist, e.hist[1:])
			e.hist[len(e.hist)-1] = snap
		}
		e.bytes = size
	}
	close(e.changed)
	e.changed = make(chan struct{})
	if !snap.InProgress && !e.done {
		e.done = true
		s.fmu.Lock()
		e.elem = s.finished.PushBack(e)
		s.fmu.Unlock()
		if s.retention > 0 {
			e.timer = time.AfterFunc(s.retention, func() { s.expire(e) })
		}
	}
	return snap.Version, err
}

// Get implements [Store].
func (s *MemoryStore) Get(_ context.Context, scope, key string) (Snapshot, error) {
	e := s.lookup(scope, key)
	if e == nil {
		return Snapshot{}, ErrNotFound
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.gone {
		return Snapshot{}, ErrNotFound
	}
	return e.hist[len(e.hist)-1], nil
}

// Changes implements [Store]. A version after the current one (which this
// store never handed out) counts as older than every state.
func (s *MemoryStore) Changes(ctx context.Context, scope, key string, after uint64) ([]Snapshot, error) {
	for {
		e := s.lookup(scope, key)
		if e == nil {
			return nil, ErrNotFound
		}
		e.mu.RLock()
		if e.gone {
			e.mu.RUnlock()
			// Freed, or replaced by a new meter of the same key: then
			// watch the new one.
			if n := s.lookup(scope, key); n == nil || n == e {
				return nil, ErrNotFound
			}
			continue
		}
		out := e.since(after)
		ch := e.changed
		e.mu.RUnlock()
		if out != nil {
			return out, nil
		}
		s.waiting.Add(1)
		select {
		case <-ch:
			s.waiting.Add(-1)
		case <-ctx.Done():
			s.waiting.Add(-1)
			return nil, ctx.Err()
		}
	}
}

// DeleteScope implements [Store].
func (s *MemoryStore) DeleteScope(_ context.Context, scope string) error {
	s.mu.Lock()
	meters := s.scopes[scope]
	delete(s.scopes, scope)
	s.n -= len(meters)
	s.mu.Unlock()
	for _, e := range meters {
		s.free(e)
	}
	return nil
}

func (s *MemoryStore) lookup(scope, key string) *entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.scopes[scope][key]
}

// remove takes e out of the store and frees it. s.mu must be held.
func (s *MemoryStore) remove(e *entry) {
	meters := s.scopes[e.scope]
	delete(meters, e.key)
	if len(meters) == 0 {
		delete(s.scopes, e.scope)
	}
	s.n--
	s.free(e)
}

// evictFinished removes the meter that finished first, if any. s.mu must
// be held.
func (s *MemoryStore) evictFinished() bool {
	for {
		s.fmu.Lock()
		el := s.finished.Front()
		if el == nil {
			s.fmu.Unlock()
			return false
		}
		e := s.finished.Remove(el).(*entry)
		e.elem = nil
		s.fmu.Unlock()
		// An entry leaves the map before it is freed (and leaves this
		// list); skip one caught in between.
		if s.scopes[e.scope][e.key] == e {
			s.remove(e)
			return true
		}
	}
}

// expire frees e after its retention, unless it was replaced or freed
// meanwhile.
func (s *MemoryStore) expire(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scopes[e.scope][e.key] == e {
		s.remove(e)
	}
}

// free marks e gone, wakes its watchers, and gives back what it held.
func (s *MemoryStore) free(e *entry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		return
	}
	e.gone = true
	if e.timer != nil {
		e.timer.Stop()
	}
	close(e.changed)
	s.bytes.Add(-e.bytes)
	s.fmu.Lock()
	if e.elem != nil {
		s.finished.Remove(e.elem)
		e.elem = nil
	}
	s.fmu.Unlock()
}

// statesSize estimates the memory held by one meter's states: kept, oldest
// first, then next. States share a status line that did not change, and
// the messages of the latest state are counted once (older states hold
// windows of the same messages).
func statesSize(kept []Snapshot, next *Snapshot) int64 {
	n := int64(meterOverhead + len(next.Name) + len(next.ID))
	prev := ""
	for i := range kept {
		if i == 0 || kept[i].Status != prev {
			n += int64(len(kept[i].Status))
		}
		prev = kept[i].Status
	}
	if len(kept) == 0 || next.Status != prev {
		n += int64(len(next.Status))
	}
	n += int64(len(kept)+1) * stateOverhead
	for _, m := range next.Messages {
		n += int64(len(m) + messageOverhead)
	}
	return n
}

// current returns the latest state.
func (e *entry) current() Snapshot {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.hist[len(e.hist)-1]
}

// since returns the states after version v, or nil if there are none.
// e.mu must be held.
func (e *entry) since(v uint64) []Snapshot {
	last := e.hist[len(e.hist)-1]
	switch {
	case last.Version == v:
		return nil
	case last.Version < v:
		return []Snapshot{last}
	}
	i := len(e.hist) - 1
	for i > 0 && e.hist[i-1].Version > v {
		i--
	}
	return append([]Snapshot(nil), e.hist[i:]...)
}
