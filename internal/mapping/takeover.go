package mapping

import (
	"context"
	"net/http"
	"time"

	"github.com/continuity-go/continuity/internal/handoff"
)

// takeover asks Config.Takeover about id, one request at a time per ID:
// a request that finds a takeover of its ID under way waits for it and
// reports again, so that its caller maps the request afresh (to the
// session the takeover made). The caller calls done once the session is
// in the table (or was not made).
func (m *Mapper) takeover(r *http.Request, id string) (o *handoff.Owned, again bool, done func(), err error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, false, nil, ErrClosed
	}
	if ch, busy := m.takeovers[id]; busy {
		m.mu.Unlock()
		select {
		case <-ch:
			return nil, true, nil, nil
		case <-r.Context().Done():
			return nil, false, nil, r.Context().Err()
		}
	}
	if m.takeovers == nil {
		m.takeovers = make(map[string]chan struct{})
	}
	ch := make(chan struct{})
	m.takeovers[id] = ch
	m.mu.Unlock()
	done = func() {
		m.mu.Lock()
		delete(m.takeovers, id)
		m.mu.Unlock()
		close(ch)
	}
	o, err = m.cfg.Takeover(r.Context(), id, r)
	if err != nil {
		done()
		return nil, false, nil, err
	}
	return o, false, done, nil
}

// releaseOwned gives up the lease of a shared session that was not
// created after all.
func releaseOwned(o *handoff.Owned) {
	if o == nil || o.Lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o.Lease.Release(ctx)
}
