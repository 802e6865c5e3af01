package redistore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/journal"
	"github.com/continuity-go/continuity/redistore"
)

// BenchmarkLeaseRenew renews leases held by one node: from one goroutine
// (the latency of a renewal), and from 32 (as a node renews its
// sessions' leases, 32 in flight), reported as renewals per second.
func BenchmarkLeaseRenew(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	s, err := redistore.NewJournalStore(rdb, redistore.JournalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	const sessions = 1000
	leases := make([]*redistore.Lease, sessions)
	for i := range leases {
		if leases[i], err = s.Acquire(context.Background(), fmt.Sprint("s", i), "a"); err != nil {
			b.Fatal(err)
		}
	}
	for _, workers := range []int{1, 32} {
		b.Run(fmt.Sprintf("inflight=%d", workers), func(b *testing.B) {
			work := make(chan *redistore.Lease)
			errs := make(chan error, workers)
			for range workers {
				go func() {
					var first error
					for l := range work {
						if err := l.Renew(context.Background()); err != nil && first == nil {
							first = err
						}
					}
					errs <- first
				}()
			}
			i := 0
			for b.Loop() {
				work <- leases[i%sessions]
				i++
			}
			close(work)
			for range workers {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "renewals/s")
		})
	}
	// As a node does: pipelines of 256 (RenewLeases), 32 in flight; an
	// op is one lease renewed.
	b.Run("pipelined/inflight=32", func(b *testing.B) {
		batches := make(chan []journal.Lease)
		errs := make(chan error, 32)
		for range 32 {
			go func() {
				var first error
				for batch := range batches {
					for _, err := range s.RenewLeases(context.Background(), batch) {
						if err != nil && first == nil {
							first = err
						}
					}
				}
				errs <- first
			}()
		}
		all := make([]journal.Lease, sessions)
		for i, l := range leases {
			all[i] = l
		}
		n := 0
		for n < b.N {
			k := min(256, b.N-n)
			start := n % sessions
			if start+k > sessions {
				start = 0
			}
			batches <- all[start : start+k]
			n += k
		}
		close(batches)
		for range 32 {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "renewals/s")
	})
}
