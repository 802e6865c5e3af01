package continuity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/continuity-go/continuity/internal/handoff"
	"github.com/continuity-go/continuity/journal"
)

// Shared sessions (see Options.Journal): the server's side of a
// deployment whose nodes share a journal store with leases.

// errTakeover wraps a takeover that could not be made (the store is
// unreachable, or the lease stayed held): 503, and the browser retries.
var errTakeover = errors.New("continuity: cannot take the session over")

// sharing is a server's shared-journal state.
type sharing struct {
	l    journal.Leaser
	node string
	stop chan struct{} // closed to stop the renewal loop
	done chan struct{} // closed when it has stopped
	once sync.Once
}

func newSharing(o *Options) *sharing {
	l, ok := o.Journal.(journal.Leaser)
	if !ok {
		return nil
	}
	node := o.Node
	if node == "" {
		host, _ := os.Hostname()
		node = host + ":" + strconv.Itoa(os.Getpid())
	}
	return &sharing{l: l, node: node, stop: make(chan struct{}), done: make(chan struct{})}
}

// journalKey is a session's journal key in a shared store: the same on
// every node for the same session ID, and not the ID itself (which
// would let anyone who reads Redis hijack the session).
func journalKey(id string) string {
	sum := sha256.Sum256([]byte("continuity journal\x00" + id))
	return "s" + hex.EncodeToString(sum[:16])
}

// own gives a new session its lease.
func (sh *sharing) own(ctx context.Context, id string) (*handoff.Owned, error) {
	ctx, cancel := context.WithTimeout(ctx, sh.l.LeaseTTL())
	defer cancel()
	key := journalKey(id)
	l, err := sh.l.AcquireLease(ctx, key, sh.node)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTakeover, err)
	}
	return &handoff.Owned{Key: key, Lease: l}, nil
}

// takeover takes over a session another node ran, if the store knows it:
// it waits for the session's lease (until a dead node's lapses), then
// loads the journal the new session replays.
func (sh *sharing) takeover(ctx context.Context, id string, r *http.Request) (o *handoff.Owned, err error) {
	key := journalKey(id)
	start := time.Now()
	es, err := sh.l.Load(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTakeover, err)
	}
	if len(es) == 0 {
		return nil, nil // unknown here too: a new session
	}
	// A takeover is a span of its own under the request's step (otel.go):
	// the lease wait and the loads are its cost, the replay comes after.
	var waited time.Duration
	defer func() {
		if r == nil {
			return
		}
		noteTakeover(r.Context(), takeoverCost{start: start, end: time.Now(), leaseWait: waited,
			steps: len(es), node: sh.node, err: err})
	}()
	ctx, cancel := context.WithTimeout(ctx, 2*sh.l.LeaseTTL()+time.Second)
	defer cancel()
	asked := time.Now()
	l, err := sh.l.AcquireLease(ctx, key, sh.node)
	waited = time.Since(asked)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTakeover, err)
	}
	// Load again: the old owner may have appended before its lease lapsed.
	if es, err = l.Journal().Load(ctx, key); err != nil || len(es) == 0 {
		rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
		defer rcancel()
		l.Release(rctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errTakeover, err)
		}
		return nil, nil // the session ended meanwhile
	}
	return &handoff.Owned{Key: key, Lease: l, Resume: es, Request: r}, nil
}

// renew renews the leases of the server's shared sessions every third of
// the lease TTL until stopped; a session whose lease was lost (another
// node took it over) is ended.
func (s *Server) renew() {
	sh := s.sharing
	defer close(sh.done)
	every := max(sh.l.LeaseTTL()/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-sh.stop:
			return
		case <-t.C:
		}
		s.renewAll(every)
	}
}

// Renewals are round trips to the store: one after the other they would
// not get through a node's sessions within a lease TTL (100,000 Redis
// renewals take 8 s on one connection). renewWorkers of them are in
// flight at once, each a batch of renewBatch leases when the store
// renews in batches (a journal.BatchRenewer, such as redistore's
// pipelines), else of one.
const (
	renewWorkers = 32
	renewBatch   = 256
)

// renewAll renews every shared session's lease once and returns when all
// are done; each round trip is bounded by every. A session whose lease
// was lost (another node took it over) is ended.
func (s *Server) renewAll(every time.Duration) {
	batch := 1
	br, _ := s.sharing.l.(journal.BatchRenewer)
	if br != nil {
		batch = renewBatch
	}
	work := make(chan []*handoff.Session)
	var wg sync.WaitGroup
	for range renewWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leases := make([]journal.Lease, 0, batch)
			for sessions := range work {
				ctx, cancel := context.WithTimeout(context.Background(), every)
				var errs []error
				if br != nil {
					leases = leases[:0]
					for _, sess := range sessions {
						leases = append(leases, sess.Lease())
					}
					errs = br.RenewLeases(ctx, leases)
				} else {
					errs = []error{sessions[0].Lease().Renew(ctx)}
				}
				cancel()
				for i, err := range errs {
					if sess := sessions[i]; errors.Is(err, journal.ErrFenced) && !sess.Closed() {
						s.logger.Warn("continuity: session lease lost; another node runs the session", "session", sess.LogID())
						sess.Close(handoff.EndFenced)
					}
				}
			}
		}()
	}
	var chunk []*handoff.Session
	for _, sess := range s.mapper.Sessions() {
		if sess.Lease() == nil || sess.Closed() {
			continue
		}
		chunk = append(chunk, sess)
		if len(chunk) == batch {
			work <- chunk
			chunk = nil
		}
	}
	if len(chunk) > 0 {
		work <- chunk
	}
	close(work)
	wg.Wait()
}

// stopRenewing stops the renewal loop and waits for it.
func (s *Server) stopRenewing() {
	sh := s.sharing
	if sh == nil {
		return
	}
	sh.once.Do(func() { close(sh.stop) })
	<-sh.done
}

// handOff hands every shared session off after its current step.
func (s *Server) handOff() bool {
	if s.sharing == nil {
		return false
	}
	for _, sess := range s.mapper.Sessions() {
		sess.HandOff()
	}
	return true
}

// sharedLive reports whether a shared session is still running.
func (s *Server) sharedLive() bool {
	for _, sess := range s.mapper.Sessions() {
		if sess.Lease() != nil && !sess.Closed() {
			return true
		}
	}
	return false
}
