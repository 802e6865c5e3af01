package mapping

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/handoff"
)

// TestSignedIDsHaveNoAgeCapUnlessAsked: with neither MaxAge nor
// MaxLifetime set, a signed ID is good for as long as its session lives
// (the options table says MaxLifetime 0 means no bound); MaxAge, when set,
// still caps it.
func TestSignedIDsHaveNoAgeCapUnlessAsked(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		m := newMapper(t, Config{IdleTimeout: -1})
		s, c, err := m.Session(get("/"))
		require.NoError(t, err)
		time.Sleep(31 * 24 * time.Hour)
		got, c2, err := m.Session(get("/", c))
		require.NoError(t, err)
		assert.Same(t, s, got, "a 31-day-old cookie of a live session was refused")
		assert.Nil(t, c2)

		capped := newMapper(t, Config{IdleTimeout: -1, MaxAge: time.Hour})
		s, c, err = capped.Session(get("/"))
		require.NoError(t, err)
		time.Sleep(time.Hour + time.Second)
		got, c2, err = capped.Session(get("/", c))
		require.NoError(t, err)
		assert.NotSame(t, s, got, "MaxAge caps the signature's age")
		assert.NotNil(t, c2)
	})
}

// TestPathModeBrowserIDExpiresWithItsSessions: in ByCookie|ByPath (and
// ByQuery|ByPath) the signed ID names the browser; once every session of
// that browser has ended, the ID is dead like a cookie-mode ID: a new path
// gets a fresh ID, so a stolen cookie does not outlive the idle timeout.
func TestPathModeBrowserIDExpiresWithItsSessions(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		m := newMapper(t, Config{Mode: ByCookie | ByPath, IdleTimeout: time.Minute})
		_, c, err := m.Session(get("/a"))
		require.NoError(t, err)
		_, c2, err := m.Session(get("/b", c))
		require.NoError(t, err)
		assert.Nil(t, c2, "a live browser keeps its ID on a new path")

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		require.Zero(t, m.Len(), "both sessions reaped")
		_, c3, err := m.Session(get("/c", c))
		require.NoError(t, err)
		require.NotNil(t, c3, "the ID of a browser with no live session was accepted again")
		assert.NotEqual(t, c.Value, c3.Value)
		_, ok := m.Find(get("/c", c))
		assert.False(t, ok)
	})
}

func TestQueryPathModeTokenExpiresWithItsSessions(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		m := newMapper(t, Config{Mode: ByQuery | ByPath, IdleTimeout: time.Minute})
		_, _, err := m.Session(get("/a"))
		require.NoError(t, err)
		var tok string
		for k := range m.table {
			tok, err = securecookie.EncodeMulti(defaultQueryParam, []byte(k[len("/a\x00"):]), m.codecs...)
			require.NoError(t, err)
		}
		_, _, err = m.Session(get("/b?sid=" + url.QueryEscape(tok)))
		require.NoError(t, err)
		_, ok := m.Find(get("/b?sid=" + url.QueryEscape(tok)))
		require.True(t, ok, "a live token opens a new path")

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		require.Zero(t, m.Len())
		_, _, err = m.Session(get("/c?sid=" + url.QueryEscape(tok)))
		require.NoError(t, err)
		_, ok = m.Find(get("/c?sid=" + url.QueryEscape(tok)))
		assert.False(t, ok, "the token of a browser with no live session was accepted again")
	})
}

// inBubble runs f in a synctest bubble. Package request pools its hand-off
// exchanges (each with a channel) and timers process-wide; a channel made
// in a bubble must never be used outside it, and one made outside does not
// count as durably blocking inside. Two collections empty a sync.Pool, so
// emptying the pools on the way in and out keeps each side to its own.
func inBubble(t *testing.T, f func(t *testing.T)) {
	flushPools()
	defer flushPools()
	synctest.Test(t, f)
}

func flushPools() {
	runtime.GC()
	runtime.GC()
}

// serveBubbled serves r without a timer (timers are pooled too).
func serveBubbled(t *testing.T, s *handoff.Session, r *http.Request) string {
	t.Helper()
	w := httptest.NewRecorder()
	require.False(t, s.Serve(w, r, handoff.Timeouts{}))
	return w.Body.String()
}

func alive(s *handoff.Session) bool { return s.Context().Err() == nil }

// TestReaperEndsIdleSessions: the reaper looks every IdleTimeout/4 and the
// coarse clock runs up to one look ahead, so an idle session ends between
// IdleTimeout and IdleTimeout plus one look after its last request: never
// early, at most one look late.
func TestReaperEndsIdleSessions(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		m := newMapper(t, Config{IdleTimeout: time.Minute})
		require.Equal(t, 15*time.Second, m.reapInterval())
		s, c, err := m.Session(get("/"))
		require.NoError(t, err)
		assert.Equal(t, "ok", serveBubbled(t, s, get("/")))

		time.Sleep(time.Minute)
		synctest.Wait()
		assert.True(t, alive(s), "reaped before IdleTimeout")
		time.Sleep(15 * time.Second)
		synctest.Wait()
		assert.False(t, alive(s), "not reaped one look past IdleTimeout")
		assert.ErrorIs(t, context.Cause(s.Context()), handoff.EndIdle)
		assert.Zero(t, m.Len())
		_, ok := m.Find(get("/", c))
		assert.False(t, ok)
		s2, c2, err := m.Session(get("/", c))
		require.NoError(t, err)
		assert.NotSame(t, s, s2)
		assert.NotNil(t, c2, "a reaped session's ID is not resurrected")
	})
}

// TestReaperSparesBusySessions: a session with a request in flight is
// never reaped, however long the request takes; its idle time starts when
// the request ends.
func TestReaperSparesBusySessions(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		hold := make(chan struct{})
		app := func(r *handoff.Handle) {
			<-hold
			fmt.Fprint(r, "late")
			r.Next()
		}
		m := newMapper(t, Config{IdleTimeout: time.Minute, Session: handoff.Options{App: app}})
		s, _, err := m.Session(get("/"))
		require.NoError(t, err)
		served := make(chan string)
		go func() { served <- serveBubbled(t, s, get("/")) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.True(t, alive(s), "reaped mid-request")
		close(hold)
		assert.Equal(t, "late", <-served)

		time.Sleep(time.Minute)
		synctest.Wait()
		assert.True(t, alive(s), "idle time counted from before the request ended")
		time.Sleep(15 * time.Second)
		synctest.Wait()
		assert.False(t, alive(s))
		assert.ErrorIs(t, context.Cause(s.Context()), handoff.EndIdle)
	})
}

// TestReaperEndsSessionsPastMaxLifetime: however active, a session ends at
// the first look at or past MaxLifetime.
func TestReaperEndsSessionsPastMaxLifetime(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		m := newMapper(t, Config{IdleTimeout: -1, MaxLifetime: time.Minute})
		s, c, err := m.Session(get("/"))
		require.NoError(t, err)
		for range 6 {
			got, _, err := m.Session(get("/", c))
			require.NoError(t, err)
			require.Same(t, s, got)
			assert.Equal(t, "ok", serveBubbled(t, s, get("/")))
			time.Sleep(10*time.Second - time.Nanosecond)
			synctest.Wait()
			require.True(t, alive(s))
			time.Sleep(time.Nanosecond)
		}
		synctest.Wait()
		assert.False(t, alive(s), "not ended at MaxLifetime")
		assert.ErrorIs(t, context.Cause(s.Context()), handoff.EndLifetime)
		assert.Equal(t, time.Minute, time.Since(s.Created()))
	})
}

// TestCloseReportsSessionsThatDoNotFinish: Close waits for session
// goroutines until its context ends, then says how many are left.
func TestCloseReportsSessionsThatDoNotFinish(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		release := make(chan struct{})
		holding := make(chan struct{})
		stuck := func(r *handoff.Handle) {
			close(holding)
			<-release // ignores the session's context
			r.Next()
		}
		m, err := New(Config{Session: handoff.Options{App: stuck}})
		require.NoError(t, err)
		s, _, err := m.Session(get("/"))
		require.NoError(t, err)
		served := make(chan struct{})
		go func() {
			defer close(served)
			serveBubbled(t, s, get("/"))
		}()
		<-holding

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		err = m.Close(ctx)
		require.Error(t, err)
		assert.Equal(t, time.Minute, time.Since(start), "Close waits as long as its context allows")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "1 session goroutines still running")

		close(release)
		<-served
		require.NoError(t, m.Close(context.Background()))
	})
}
