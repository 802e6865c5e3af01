package mapping

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"testing"

	"github.com/continuity-go/continuity/internal/handoff"
)

// BenchmarkSessionLookup measures the lookup of an existing session, the
// part of every step that goes through the session table's one mutex,
// with 100,000 sessions parked. "Session" is the whole lookup (the cached
// token check, the key, the critical section), in parallel; "locked" is
// the critical section alone (lock, map lookup, LRU touch, unlock), one
// goroutine: how long each step holds the mutex, which bounds how many
// steps a second one mutex lets through.
func BenchmarkSessionLookup(b *testing.B) {
	const n = 100_000
	m, err := New(Config{Session: handoff.Options{App: loop}, MaxSessions: n})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := m.Close(context.Background()); err != nil {
			b.Error(err)
		}
	}()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		// Each from an address of its own, so that no per-client bound
		// applies.
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String() + ":1234"
		r := get("/")
		r.RemoteAddr = addr
		_, ck, err := m.Session(r)
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = get("/", ck)
		reqs[i].RemoteAddr = addr
	}
	keys := make([]string, 0, n)
	m.mu.Lock()
	for k := range m.table {
		keys = append(keys, k)
	}
	m.mu.Unlock()
	if len(keys) != n {
		b.Fatalf("%d sessions in the table, want %d", len(keys), n)
	}

	b.Run("Session", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
			for pb.Next() {
				if _, ck, err := m.Session(reqs[rng.IntN(n)]); err != nil || ck != nil {
					b.Fatal("lookup made a new session", err)
				}
			}
		})
	})
	b.Run("locked", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			k := keys[rng.IntN(n)]
			m.mu.Lock()
			e := m.table[k]
			m.touchLocked(e)
			m.mu.Unlock()
		}
	})
}
