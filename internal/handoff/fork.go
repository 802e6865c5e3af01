package handoff

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Forks. Under the Fork policy a stale request (a page of another tab, or
// one the back button went to) does not move the browser's session: it
// gets a branch, a session of its own whose flow is replayed to the
// page's step and takes the request there. The branch's tokens carry its
// number, and the browser's session, which the mapper finds by the
// cookie, hands each request carrying them to the branch (Session.Handle),
// so that the tabs carry on independently. A family is a browser
// session with its branches; the browser's session owns them: their
// contexts derive from its own, and its Run waits for them.

// family is a browser session and the branches forked from it.
type family struct {
	root   *Session
	key    string // the root's journal key; branches' are derived
	macKey []byte // signs the family's tokens
	forked atomic.Bool
	wg     sync.WaitGroup // the branches' goroutines

	mu       sync.Mutex
	branches map[uint32]*Session
	last     uint32 // the last branch number given
}

// route returns the branch that r's token names, or nil for the root.
func (f *family) route(r *http.Request) *Session {
	k := tokenOf(r)
	if k == "" {
		return nil
	}
	b, ok := branchOf(k)
	if !ok || b == 0 {
		return nil
	}
	f.mu.Lock()
	s := f.branches[b]
	f.mu.Unlock()
	if s == nil || s.Closed() {
		return nil // ended: the root answers
	}
	return s
}

// add registers a new branch, first ending the least recently used idle
// one when the family has as many as it may.
func (f *family) add(parent *Session) (*Session, error) {
	f.mu.Lock()
	var victim *Session
	if len(f.branches) >= maxBranches {
		for _, b := range f.branches {
			if !b.Busy() && (victim == nil || b.LastSeen().Before(victim.LastSeen())) {
				victim = b
			}
		}
		if victim == nil {
			f.mu.Unlock()
			return nil, errTooManyBranches
		}
		f.removeLocked(victim)
	}
	f.last++
	id := f.last
	b := NewSession(f.root.Context(), f.root.branchOptions(id, f))
	b.j.Store(b.newJournal(parent.j.Load(), id))
	if f.branches == nil {
		f.branches = make(map[uint32]*Session)
	}
	f.branches[id] = b
	f.forked.Store(true)
	f.mu.Unlock()
	if victim != nil {
		victim.Close(EndEvicted)
	}
	return b, nil
}

func (f *family) removeLocked(b *Session) {
	for id, x := range f.branches {
		if x == b {
			delete(f.branches, id)
		}
	}
}

// branchOptions are the options of branch id of the browser session s:
// its own, but for the log ID, and an end that leaves the family.
func (s *Session) branchOptions(id uint32, f *family) Options {
	return Options{
		App:                 s.app,
		QueueDepth:          s.depth,
		MaxQueuedBytes:      s.maxQueued,
		Budget:              s.budget,
		Pool:                s.pool,
		NoImplicitFirstNext: s.noImplicit,
		Logger:              s.logger,
		LogID:               s.logID + "/" + strconv.FormatUint(uint64(id), 10),
		Token:               s.token,
		QueryParam:          s.queryParam,
		Renew:               s.renew,
		Owner:               s.owner,
		Hooks:               s.hooks,
		Shared:              s.shared,
		Clock:               s.clock,
		Epoch:               s.epoch,
		Replay:              s.replay,
		OnEnd: func(b *Session, _ error) {
			f.mu.Lock()
			f.removeLocked(b)
			f.mu.Unlock()
		},
	}
}

// fork answers ex, a stale request for step, with a new branch: a session
// of its own, replayed to step, that takes ex as its next input.
func (r *Handle) fork(ex *exchange, step int) {
	j := r.s.j.Load()
	entries, ok := j.timeline(step)
	if !ok {
		j.tooOld(ex)
		return
	}
	b, err := j.fam.add(r.s)
	if err != nil {
		r.reshow(ex, StaleBack) // every branch is busy: as under Reject
		return
	}
	bj := b.j.Load()
	bj.replayable = true
	for _, e := range entries {
		bj.append(e)
	}
	if !bj.replayable {
		fam := j.fam
		fam.mu.Lock()
		fam.removeLocked(b)
		fam.mu.Unlock()
		b.Close(EndEvicted) // it never ran
		j.tooOld(ex)
		return
	}
	rp := &replayer{entries: entries, mode: modeRewind, target: step, fork: true, ex: ex, base: ex.r, start: time.Now()}
	b.setReplaying(true)
	ex.armReplay(j.cfg.Timeout, b)
	fam := j.fam
	fam.wg.Add(1)
	go func() {
		defer fam.wg.Done()
		b.h.rp = rp
		b.run(&b.h, true)
	}()
}
