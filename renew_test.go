package continuity_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/journal"
)

// slowLeaser is a shared journal whose lease renewals each take a round
// trip of rtt, as a store across a network does: it records when each
// session's lease was acquired and renewed.
type slowLeaser struct {
	*journal.Memory
	ttl, rtt time.Duration

	mu    sync.Mutex
	times map[string][]time.Time // acquired, then each renewal
}

func (l *slowLeaser) LeaseTTL() time.Duration { return l.ttl }

func (l *slowLeaser) AcquireLease(_ context.Context, session, _ string) (journal.Lease, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.times[session] = append(l.times[session], time.Now())
	return &slowLease{l: l, session: session}, nil
}

type slowLease struct {
	l       *slowLeaser
	session string
}

func (s *slowLease) Journal() journal.Store { return s.l.Memory }
func (s *slowLease) Release(context.Context) error {
	return nil
}

func (s *slowLease) Renew(context.Context) error {
	time.Sleep(s.l.rtt)
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.l.times[s.session] = append(s.l.times[s.session], time.Now())
	return nil
}

// TestManyLeasesAreRenewedInTime: a node renews the leases of all its
// shared sessions well within their TTL, however many there are: with a
// store 10ms away, 64 sessions renewed one after the other would take
// 640ms, past the 300ms TTL, and another node could take them over.
func TestManyLeasesAreRenewedInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &slowLeaser{Memory: journal.NewMemory(journal.Limits{}), ttl: 300 * time.Millisecond, rtt: 10 * time.Millisecond, times: map[string][]time.Time{}}
		app := func(r *continuity.Request) {
			for n := 1; ; n++ {
				r.Printf("%d", n)
				r.Next()
			}
		}
		srv := startInBubble(t, app, &continuity.Options{Journal: l, Node: "a", Logger: quietLogger()})
		for i := range 64 {
			_, body := srv.get(t, srv.browser(t), fmt.Sprint("/", i))
			require.Equal(t, "1", body)
		}
		time.Sleep(2 * time.Second)

		l.mu.Lock()
		defer l.mu.Unlock()
		require.Len(t, l.times, 64)
		for session, ts := range l.times {
			require.Greater(t, len(ts), 2, "%s renewed", session)
			for i := 1; i < len(ts); i++ {
				if gap := ts[i].Sub(ts[i-1]); gap >= l.ttl {
					assert.Fail(t, "a lease went unrenewed past its TTL", "%s: %v between renewals", session, gap)
					return
				}
			}
		}
	})
}
