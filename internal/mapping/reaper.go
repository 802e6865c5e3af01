package mapping

import (
	"time"

	"github.com/continuity-go/continuity/internal/handoff"
)

// reapInterval is how often the reaper looks: often enough that a session
// outlives its timeout by at most a quarter of it, never busier than every
// 10ms, never lazier than every 30s.
func (m *Mapper) reapInterval() time.Duration {
	d := 30 * time.Second
	if m.idle > 0 {
		d = min(d, m.idle/4)
	}
	if m.cfg.MaxLifetime > 0 {
		d = min(d, m.cfg.MaxLifetime/4)
	}
	return max(d, 10*time.Millisecond)
}

// reap runs until Close, ending sessions idle past IdleTimeout or older
// than MaxLifetime. A session with a request in flight or queued is never
// reaped; it is looked at again on the next tick.
func (m *Mapper) reap() {
	defer close(m.reaped)
	every := m.reapInterval()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			// time.Now, not the tick's value: its monotonic reading is
			// what every comparison below uses.
			now := time.Now()
			m.clock.Store(int64(now.Sub(m.epoch) + every))
			m.reapOnce(now)
		}
	}
}

func (m *Mapper) reapOnce(now time.Time) {
	type doomed struct {
		s      *handoff.Session
		reason error
	}
	var out []doomed
	m.mu.Lock()
	if m.idle > 0 {
		cut := int64(now.Sub(m.epoch) - m.idle)
		for _, l := range [...]*lru{&m.probation, &m.protected} {
			// Lists are ordered by last lookup, oldest at the tail: stop at
			// the first entry looked up since the cut.
			for e := l.tail; e != nil && e.touched <= cut; {
				prev := e.places[inRecency].prev
				if !e.sess.Busy() && now.Sub(e.sess.LastSeen()) >= m.idle {
					m.removeLocked(e)
					out = append(out, doomed{e.sess, handoff.EndIdle})
				}
				e = prev
			}
		}
	}
	if life := m.cfg.MaxLifetime; life > 0 {
		for _, e := range m.table {
			if !e.sess.Busy() && now.Sub(e.sess.Created()) >= life {
				m.removeLocked(e)
				out = append(out, doomed{e.sess, handoff.EndLifetime})
			}
		}
	}
	m.mu.Unlock()
	for _, d := range out {
		d.s.Close(d.reason)
	}
}
