package redistore_test

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/journal"
	"github.com/continuity-go/continuity/redistore"
)

// BenchmarkJournalAppend is the cost of journaling one step's input: in
// memory, and in Redis (a redis-server on loopback) without a lease, with
// one (the fenced append), and with a durable append on a server that
// fsyncs every write. Each session takes 500 appends, then the next
// begins, so that no cap is reached.
//
//	go test -run '^$' -bench JournalAppend -benchtime 20000x -count 3 ./redistore/
func BenchmarkJournalAppend(b *testing.B) {
	e := journal.Entry{Kind: journal.Input, Step: 3, Method: "POST", Path: "/wizard",
		Form: url.Values{"name": {"Ann Example"}, "email": {"ann@example.com"}, "plan": {"pro"}}}
	const perSession = 500

	// appender appends to one session after another.
	type appender struct {
		store func(session string) journal.Store
		n     *atomic.Int64
		s     journal.Store
		id    string
		seq   uint64
	}
	next := func(b *testing.B, a *appender) {
		if a.s == nil || a.seq == perSession {
			a.id, a.seq = fmt.Sprint("s", a.n.Add(1)), 0
			a.s = a.store(a.id)
		}
		a.seq++
		if err := a.s.Append(context.Background(), a.id, a.seq, e); err != nil {
			b.Fatal(err)
		}
	}
	// run appends from one goroutine (serial: the latency of an append),
	// or from 8 per CPU (parallel: the throughput of a node).
	run := func(b *testing.B, parallel bool, store func(session string) journal.Store) {
		var n atomic.Int64
		b.ReportAllocs()
		if !parallel {
			a := &appender{store: store, n: &n}
			for b.Loop() {
				next(b, a)
			}
			return
		}
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			a := &appender{store: store, n: &n}
			for pb.Next() {
				next(b, a)
			}
		})
	}
	redisStore := func(b *testing.B, o redistest.Options, jo redistore.JournalOptions) *redistore.JournalStore {
		srv := redistest.Start(b, o)
		opt, err := redis.ParseURL(srv.URL())
		require.NoError(b, err)
		c := redis.NewClient(opt)
		b.Cleanup(func() { _ = c.Close() })
		s, err := redistore.NewJournalStore(c, jo)
		require.NoError(b, err)
		return s
	}
	leased := func(s *redistore.JournalStore, d redistore.Durability) func(string) journal.Store {
		return func(session string) journal.Store {
			l, err := s.Acquire(context.Background(), session, "bench")
			if err != nil {
				b.Fatal(err)
			}
			return l.JournalWith(d)
		}
	}

	for _, mode := range []string{"serial", "parallel"} {
		parallel := mode == "parallel"
		b.Run("memory/"+mode, func(b *testing.B) {
			m := journal.NewMemory(journal.Limits{})
			run(b, parallel, func(string) journal.Store { return m })
		})
		b.Run("redis/"+mode, func(b *testing.B) {
			s := redisStore(b, redistest.Options{}, redistore.JournalOptions{})
			run(b, parallel, func(string) journal.Store { return s })
		})
		b.Run("redis-leased-aof-everysec/"+mode, func(b *testing.B) {
			s := redisStore(b, redistest.Options{AppendOnly: true}, redistore.JournalOptions{})
			run(b, parallel, leased(s, redistore.Durability{}))
		})
		b.Run("redis-leased-durable-aof-always/"+mode, func(b *testing.B) {
			s := redisStore(b, redistest.Options{AppendOnly: true, AppendFsync: "always"}, redistore.JournalOptions{})
			run(b, parallel, leased(s, redistore.Durability{Local: true}))
		})
	}
}
