package journal_test

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/journal"
)

var ctx = context.Background()

func input(step int, name string) journal.Entry {
	return journal.Entry{Kind: journal.Input, Step: step, Method: "POST", Path: "/", Form: url.Values{"name": {name}}}
}

func TestMemoryAppendIsDense(t *testing.T) {
	m := journal.NewMemory(journal.Limits{})
	require.ErrorIs(t, m.Append(ctx, "s", 2, input(0, "a")), journal.ErrConflict, "the first entry is seq 1")
	require.NoError(t, m.Append(ctx, "s", 1, input(0, "a")))
	require.ErrorIs(t, m.Append(ctx, "s", 1, input(1, "b")), journal.ErrConflict, "seq 1 is taken")
	require.ErrorIs(t, m.Append(ctx, "s", 3, input(1, "b")), journal.ErrConflict, "seq 2 comes first")
	require.NoError(t, m.Append(ctx, "s", 2, input(1, "b")))
	got, err := m.Load(ctx, "s")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "a", got[0].Form.Get("name"))
	assert.Equal(t, "b", got[1].Form.Get("name"))

	// Sessions are independent.
	require.NoError(t, m.Append(ctx, "t", 1, input(0, "x")))
	assert.Equal(t, 2, m.Sessions())

	// Load copies the list: appending to the copy changes nothing.
	_ = append(got[:1], input(9, "z"))
	again, err := m.Load(ctx, "s")
	require.NoError(t, err)
	assert.Equal(t, "b", again[1].Form.Get("name"))
}

func TestMemoryDeleteRestartsAtOne(t *testing.T) {
	m := journal.NewMemory(journal.Limits{})
	require.NoError(t, m.Append(ctx, "s", 1, input(0, "a")))
	require.NoError(t, m.Delete(ctx, "s"))
	require.NoError(t, m.Delete(ctx, "unknown"))
	got, err := m.Load(ctx, "s")
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Zero(t, m.Sessions())
	require.ErrorIs(t, m.Append(ctx, "s", 2, input(1, "b")), journal.ErrConflict,
		"a writer that missed the delete cannot recreate the journal")
	require.NoError(t, m.Append(ctx, "s", 1, input(0, "b")))
}

func TestMemoryCaps(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		m := journal.NewMemory(journal.Limits{MaxEntries: 3})
		for i := range 3 {
			require.NoError(t, m.Append(ctx, "s", uint64(i+1), input(i, "a")))
		}
		require.ErrorIs(t, m.Append(ctx, "s", 4, input(3, "a")), journal.ErrFull)
		n, _ := m.Len("s")
		assert.Equal(t, 3, n, "a refused append stores nothing")
		require.NoError(t, m.Append(ctx, "other", 1, input(0, "a")), "caps are per session")
	})
	t.Run("bytes", func(t *testing.T) {
		e := input(0, "0123456789")
		size := int64(e.Size())
		m := journal.NewMemory(journal.Limits{MaxBytes: 2*size + size/2})
		require.NoError(t, m.Append(ctx, "s", 1, e))
		require.NoError(t, m.Append(ctx, "s", 2, e))
		require.ErrorIs(t, m.Append(ctx, "s", 3, e), journal.ErrFull)
		_, b := m.Len("s")
		assert.Equal(t, 2*size, b)
	})
	t.Run("one entry over the byte cap", func(t *testing.T) {
		m := journal.NewMemory(journal.Limits{MaxBytes: 100})
		require.ErrorIs(t, m.Append(ctx, "s", 1, journal.Entry{Kind: journal.Once, Value: make([]byte, 200)}), journal.ErrFull)
		assert.Zero(t, m.Sessions())
	})
	t.Run("defaults", func(t *testing.T) {
		m := journal.NewMemory(journal.Limits{})
		for i := range journal.DefaultMaxEntries {
			require.NoError(t, m.Append(ctx, "s", uint64(i+1), journal.Entry{Kind: journal.Barrier, Step: i}))
		}
		require.ErrorIs(t, m.Append(ctx, "s", journal.DefaultMaxEntries+1, journal.Entry{Kind: journal.Barrier}), journal.ErrFull)
	})
	t.Run("unbounded", func(t *testing.T) {
		m := journal.NewMemory(journal.Limits{MaxEntries: -1, MaxBytes: -1})
		for i := range journal.DefaultMaxEntries + 10 {
			require.NoError(t, m.Append(ctx, "s", uint64(i+1), journal.Entry{Kind: journal.Once, Value: make([]byte, 2048)}))
		}
	})
}

func TestMemoryConcurrentAppends(t *testing.T) {
	m := journal.NewMemory(journal.Limits{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			s := fmt.Sprint("s", g)
			for i := range 100 {
				assert.NoError(t, m.Append(ctx, s, uint64(i+1), input(i, "a")))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 8, m.Sessions())
}

func TestEntrySize(t *testing.T) {
	e := journal.Entry{Kind: journal.Input, Method: "POST", Path: "/a", Query: "k=x",
		Form: url.Values{"name": {"ann", "bob"}}}
	assert.Equal(t, 64+4+2+3+4+3+3, e.Size())
}

func TestTimeline(t *testing.T) {
	once := func(step int, name string) journal.Entry {
		return journal.Entry{Kind: journal.Once, Step: step, Name: name}
	}
	rewind := func(step int) journal.Entry { return journal.Entry{Kind: journal.Rewind, Step: step} }
	steps := func(es []journal.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s%d%s", e.Kind, e.Step, e.Name+e.Form.Get("name")))
		}
		return out
	}
	j := []journal.Entry{
		input(0, "a"), once(0, "x"), input(1, "b"), once(1, "y"), input(2, "c"),
		rewind(1), // back to step 1: input 2 goes
		input(2, "C"), input(3, "D"),
		rewind(0), // back to step 0: everything after step 0 goes
		input(1, "B"),
	}
	assert.Equal(t, []string{"input0a", "once0x", "input1B"}, steps(journal.Timeline(j)))
	assert.Equal(t, []string{"input0a", "once0x", "input1b", "once1y", "input2C", "input3D"}, steps(journal.Timeline(j[:8])))
	assert.Empty(t, journal.Timeline(nil))
	assert.Equal(t, "once", journal.Once.String())
	assert.Equal(t, "version", journal.Version.String())
	assert.Equal(t, "kind(9)", journal.Kind(9).String())
}

// BenchmarkMemoryAppend is one journaled input appended to the in-memory
// store, and reports the heap it holds per entry (the form itself is the
// request's and is not counted: a real step keeps it alive, see the root
// package's BenchmarkJournaledStepMemory).
func BenchmarkMemoryAppend(b *testing.B) {
	form := url.Values{"name": {"ann"}, "k": {"ABCDEFGHIJKLMNOPQRSTUVWX"}}
	m := journal.NewMemory(journal.Limits{MaxEntries: -1, MaxBytes: -1})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		seq++
		if err := m.Append(ctx, "s", seq, journal.Entry{Kind: journal.Input, Step: int(seq), Method: "POST", Path: "/wizard", Form: form}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(seq), "heap-bytes/entry")
	runtime.KeepAlive(m)
}
