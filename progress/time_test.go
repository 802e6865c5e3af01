package progress

import (
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests here wait on time (long-poll waits, keep-alives, retention),
// so they run in a synctest bubble: time is exact, and passes at once.

func TestLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bb := newBubble(t, Options{MaxWait: 5 * time.Second})
		s := bb.session()
		m := s.start("work")
		m.Set(3)

		// News to the client: answered at once, whatever the wait.
		st, _ := s.status("work?since=0&wait=10s")
		assert.Equal(t, 3, st.Count)

		// Nothing new: answered when the wait is up, and not before.
		for _, tc := range []struct {
			query string
			wait  time.Duration
		}{
			{"since=3&wait=0.2", 200 * time.Millisecond},
			{"since=3&wait=200ms", 200 * time.Millisecond},
			{"version=" + strconv.FormatUint(m.Snapshot().Version, 10) + "&wait=1", time.Second},
			{"since=3&wait=10s", 5 * time.Second}, // bounded by MaxWait
			{"since=3", 5 * time.Second},          // MaxWait by default
		} {
			got := s.poll("work?" + tc.query)
			time.Sleep(tc.wait - 1)
			synctest.Wait()
			_, done := ready(got)
			require.False(t, done, "%s: answered early", tc.query)
			assert.Equal(t, 1, bb.h.watchers())
			time.Sleep(1)
			synctest.Wait()
			a, done := ready(got)
			require.True(t, done, "%s: not answered when the wait was up", tc.query)
			assert.Equal(t, http.StatusOK, a.code)
			assert.Equal(t, 3, a.st.Count)
			assert.True(t, a.st.InProgress)
			assert.Equal(t, 0, bb.h.watchers())
		}

		// Woken at once by each kind of change.
		for _, tc := range []struct {
			name   string
			change func()
			check  func(s status)
		}{
			{"count", func() { m.Inc() }, func(s status) { assert.Equal(t, 4, s.Count) }},
			{"status", func() { m.Status("half way") }, func(s status) { assert.Equal(t, "half way", s.Status) }},
			{"message", func() { m.Message("hello") }, func(s status) { assert.Equal(t, []string{"hello"}, s.Messages) }},
			{"total", func() { m.SetTotal(50) }, func(s status) { assert.Equal(t, 50, s.Total) }},
			{"done", func() { m.Done() }, func(s status) { assert.False(t, s.InProgress) }},
		} {
			cur, _ := s.status("work")
			got := s.poll("work?wait=30s&since=" + strconv.Itoa(cur.Count) + "&version=" + strconv.FormatUint(cur.Version, 10))
			time.Sleep(time.Second)
			synctest.Wait()
			require.Equal(t, 1, bb.h.watchers(), tc.name)
			changed := time.Now()
			tc.change()
			synctest.Wait()
			a, done := ready(got)
			require.True(t, done, "%s: the long-poll did not wake", tc.name)
			assert.Zero(t, time.Since(changed), tc.name)
			tc.check(a.st)
			assert.Greater(t, a.st.Version, cur.Version, tc.name)
		}

		// A finished meter is answered at once.
		st, _ = s.status("work?wait=10s&since=4")
		assert.False(t, st.InProgress)
	})
}

// An idle event stream gets a comment every KeepAlive, and no sooner.
func TestSSEKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bb := newBubble(t, Options{})
		s := bb.session()
		m := s.start("work", Total(3))
		w, cancel, done := s.stream("work")
		defer cancel()
		synctest.Wait()
		evs := events(t, w.String())
		require.Len(t, evs, 1)
		assert.Equal(t, 0, evs[0].data.Count)
		assert.Equal(t, "text/event-stream", w.Header().Get("Content-Type"))

		for i := 1; i <= 2; i++ {
			time.Sleep(DefaultKeepAlive - 1)
			synctest.Wait()
			assert.Len(t, events(t, w.String()), i, "a keep-alive came early")
			time.Sleep(1)
			synctest.Wait()
			evs = events(t, w.String())
			require.Len(t, evs, i+1)
			assert.Equal(t, ": keep-alive", evs[i].raw)
		}
		// A change comes at once, and the keep-alive clock starts again.
		time.Sleep(time.Second)
		m.Inc()
		synctest.Wait()
		evs = events(t, w.String())
		require.Len(t, evs, 4)
		assert.Equal(t, 1, evs[3].data.Count)
		time.Sleep(DefaultKeepAlive - 1)
		synctest.Wait()
		assert.Len(t, events(t, w.String()), 4)
		time.Sleep(1)
		synctest.Wait()
		assert.Len(t, events(t, w.String()), 5)

		m.Done()
		<-done
		evs = events(t, w.String())
		assert.False(t, evs[len(evs)-1].data.InProgress)
	})
}

// A finished meter stays readable for exactly its retention; a running
// one, however long.
func TestRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bb := newBubble(t, Options{})
		s := bb.session()
		m := s.start("work")
		m.Inc()
		time.Sleep(2 * DefaultRetention)
		st, code := s.status("work")
		require.Equal(t, http.StatusOK, code)
		assert.True(t, st.InProgress)

		m.Done()
		time.Sleep(DefaultRetention - 1)
		st, code = s.status("work")
		require.Equal(t, http.StatusOK, code)
		assert.False(t, st.InProgress)
		assert.Equal(t, 1, st.Count)
		time.Sleep(1)
		synctest.Wait()
		_, code = s.status("work")
		assert.Equal(t, http.StatusNotFound, code)
		assert.Equal(t, 0, bb.h.store.(*MemoryStore).Len())

		// Options.Retention, when set.
		bb2 := newBubble(t, Options{Retention: 50 * time.Millisecond})
		s2 := bb2.session()
		s2.start("work").Done()
		time.Sleep(50*time.Millisecond - 1)
		_, code = s2.status("work")
		assert.Equal(t, http.StatusOK, code)
		time.Sleep(1)
		synctest.Wait()
		_, code = s2.status("work")
		assert.Equal(t, http.StatusNotFound, code)
	})
}

// When a session ends, its watchers are answered at once and its meters
// are freed.
func TestSessionEndEndsWatchersAndFreesMeters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bb := newBubble(t, Options{})
		s := bb.session()
		m := s.start("work")
		m.Set(2)
		got := s.poll("work?since=2&wait=30s")
		_, cancel, done := s.stream("work")
		defer cancel()
		synctest.Wait()
		require.Equal(t, 2, bb.h.watchers())

		time.Sleep(time.Second)
		start := time.Now()
		s.end()
		synctest.Wait()
		a, ok := ready(got)
		require.True(t, ok, "the long-poll outlived its session")
		assert.Equal(t, http.StatusOK, a.code, "the poll answers with the last state")
		<-done
		assert.Zero(t, time.Since(start))
		assert.Equal(t, 0, bb.h.store.(*MemoryStore).Len())
		assert.Equal(t, 0, bb.h.watchers())
		m.Inc() // a meter outliving its session is harmless
		assert.ErrorIs(t, m.Err(), ErrNotFound)
	})
}
