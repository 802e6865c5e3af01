package handoff

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"time"

	"github.com/continuity-go/continuity/journal"
)

// Shared sessions. With a journal shared by several processes (nodes),
// a session's journal is kept under a key derived from its ID, so that
// every node finds it, and written under a lease, so that one node at a
// time runs it. Every step's input is journaled before the flow sees it,
// whether or not the flow uses step tokens: a node that receives a
// request for a session it does not hold (its node died, or drained)
// acquires the lease, replays the journal with its output discarded, and
// serves the request as the next step.

// Reasons a shared session ends on one node while it goes on elsewhere.
var (
	// EndFenced: another node took the session over (this node's lease
	// lapsed), so this copy must not run on.
	EndFenced = errors.New("continuity: session taken over by another node")
	// EndHandedOff: the node drained, and gave the session's lease up
	// after its current step so that another node goes on with it.
	EndHandedOff = errors.New("continuity: session handed off to another node")
)

// Owned makes a session shared: see owned.go.
type Owned struct {
	// Key is the session's journal key, the same on every node.
	Key string
	// Lease is the session's lease; its Journal is where the session
	// writes.
	Lease journal.Lease
	// Resume is the journal to replay before the session takes its first
	// live request: the session is taken over. Nil for a new session.
	Resume []journal.Entry
	// Request is the request that caused the takeover: the replayed
	// requests carry its headers.
	Request *http.Request
}

// Lease returns the lease of a shared session, or nil.
func (s *Session) Lease() journal.Lease {
	if s.owned == nil {
		return nil
	}
	return s.owned.Lease
}

// HandOff ends a shared session after its current step, keeping its
// journal and releasing its lease, so that its next request is taken over
// by another node at once: at once if it waits in Next, else when the
// flow next calls Next. It reports whether the session is shared (others
// are left alone).
func (s *Session) HandOff() bool {
	if s.owned == nil {
		return false
	}
	s.leaving.Store(true)
	s.mu.Lock()
	idle := s.idle && len(s.queue) == 0
	s.mu.Unlock()
	if idle {
		s.cancel(EndHandedOff)
	}
	return true
}

// ownJournal points a shared session's new journal state at the lease's
// store, under the shared key; the nonce that token MACs and Once keys
// use derives from the key, so that both mean the same on every node.
func (s *Session) ownJournal(j *journalState) {
	o := s.owned
	j.store = o.Lease.Journal()
	j.key = o.Key
	sum := sha256.Sum256([]byte("continuity session nonce\x00" + o.Key))
	copy(j.nonce[:], sum[:])
}

// startOwned turns journaling on before the first step of a shared
// session and, for a takeover, sets the first run up to replay the
// journal: its output goes nowhere, its Onces return what was recorded,
// and at the journal's end the flow waits for the live request.
func (s *Session) startOwned(r *Handle) {
	j := s.newJournal(nil, 0)
	j.replayable = true
	j.step = -1
	o := s.owned
	if len(o.Resume) > 0 {
		j.seq = uint64(len(o.Resume))
		j.entries = len(o.Resume)
		for i := range o.Resume {
			j.bytes += int64(o.Resume[i].Size())
		}
		j.restored(o.Resume)
		base := o.Request
		if base == nil {
			base, _ = http.NewRequestWithContext(s.Context(), http.MethodGet, "/", nil)
		}
		r.rp = &replayer{entries: journal.Timeline(o.Resume), mode: modeRewind, fork: true, base: base, start: time.Now()}
		o.Resume, o.Request = nil, nil // the replayer has them
	}
	s.j.Store(j)
	if r.rp != nil {
		s.awaitQueued()
	}
}

// awaitQueued waits until a request is queued for the session, or it
// ends, without taking it: a takeover replays only once the request that
// caused it is there, so that a replay that diverges can answer it (the
// replay's Next takes it as usual at the live step).
func (s *Session) awaitQueued() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 && !s.cancelled.Load() {
		s.wakeup.Wait() // a request, or the session's end (Session.cancel)
	}
}

// fence ends a shared session whose lease was lost: another node runs it.
func (s *Session) fence(err error) {
	if s.logger != nil {
		s.logger.Warn("continuity: session taken over by another node; ending this copy", "session", s.logID, "err", err.Error())
	}
	s.cancel(EndFenced)
}

// fenced answers the request in hand of a session fenced while it
// journaled the request, and ends the run.
func (r *Handle) fenced() error {
	if ex := r.ex; ex != nil {
		r.ex, r.capturing = nil, false
		writePage(ex, http.StatusConflict, `<!doctype html><title>This session moved</title><h1>This session moved</h1>`+
			`<p>Another server of this site has taken this session over, so this one cannot go on with it. Reload the page: the load balancer will send you to the server that has it.</p>`)
	}
	return ErrSessionClosed
}

// leaseTimeout bounds the journal deletion and lease release of a
// session's end: Redis may be gone.
const leaseTimeout = 5 * time.Second

// forgetOwned ends a shared session's hold on its journal. A session
// handed off, shut down with its node or taken over elsewhere keeps its
// journal, for the node that goes on with it; one that ended for good
// (returned, idle, evicted, diverged) deletes it. The lease is released
// unless it was lost.
func (s *Session) forgetOwned(j *journalState) {
	cause := s.causeOf()
	ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
	defer cancel()
	l := s.owned.Lease
	switch {
	case errors.Is(cause, EndFenced):
		return
	case errors.Is(cause, EndHandedOff), errors.Is(cause, EndShutdown):
	default:
		j.store.Delete(ctx, j.key)
	}
	l.Release(ctx)
}

// Durable makes the appends of a shared session wait until each entry is
// persisted, if its store can (a journal.DurableLease). It reports
// whether it can; request.Request.Durable documents it.
func (r *Handle) Durable() bool {
	if r.dead {
		return false
	}
	j := r.journal()
	s := r.s
	if s.owned == nil {
		return false
	}
	dl, ok := s.owned.Lease.(journal.DurableLease)
	if !ok {
		return false
	}
	j.store = dl.DurableJournal()
	return true
}
