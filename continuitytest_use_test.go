package continuity_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/continuitytest"
)

// These tests restate some of the package's tests with continuitytest,
// where driving the flow as a browser says more than raw requests do.

// newServer returns a server for app that is shut down when the test (or
// the synctest bubble's test) ends.
func newServer(t testing.TB, app func(*continuity.Request), opts *continuity.Options) *continuity.Server {
	t.Helper()
	srv, err := continuity.New(app, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
	})
	return srv
}

// inBubble runs f in a synctest bubble. Each server keeps its own pool of
// hand-off objects, so a server made inside the bubble shares no channel
// or timer with anything outside it.
func inBubble(t *testing.T, f func(*testing.T)) { synctest.Test(t, f) }

func TestBrowserFollowsCallbackLinksByText(t *testing.T) {
	app := func(r *continuity.Request) {
		n := 0
		for {
			r.Printf(`<p>n=%d</p> %s %s`, n, r.Link("+1", func() { n++ }), r.Link("-1", func() { n-- }))
			r.Next()
			r.RunCallbacks()
		}
	}
	b := continuitytest.New(t, newServer(t, app, &continuity.Options{Logger: quietLogger()}))
	assert.Equal(t, "n=0 +1 -1", b.Get("/").Text())
	assert.Equal(t, "n=1 +1 -1", b.Click("+1").Text())
	assert.Equal(t, "n=2 +1 -1", b.Click("+1").Text())
	assert.Equal(t, "n=1 +1 -1", b.Click("-1").Text())
	assert.Equal(t, "n=1 +1 -1", b.Get("/?_cb=forged").Text(), "an unknown token runs nothing")
	b.Back()
	assert.Equal(t, "n=1 +1 -1", b.Click("+1").Text(), "an older page's link runs nothing: a link works once per render")
}

func TestBrowserFillsEachStepsForm(t *testing.T) {
	app := func(r *continuity.Request) {
		r.Print(`<form><input name="a"></form>`)
		a, _ := strconv.Atoi(r.Next().Param("a"))
		r.Print(`<form method="post" action="?b=9"><input name="b"></form>`)
		b, _ := strconv.Atoi(r.Next().Param("b"))
		r.Printf("%d+%d=%d %v", a, b, a+b, r.Params("b"))
	}
	b := continuitytest.New(t, newServer(t, app, &continuity.Options{Logger: quietLogger()}))
	b.Get("/")
	assert.Equal(t, "/?a=2", b.Submit(map[string]string{"a": "2"}).URL.RequestURI(), "a GET form puts its fields in the query")
	p := b.Submit(map[string]string{"b": "3"})
	assert.Equal(t, http.StatusOK, p.Status)
	assert.Equal(t, "2+3=5 [3 9]", p.Body, "POST values come before query values")
}

func TestIdleSessionIsReapedWithinAQuarterOfIdleTimeout(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const idle = 20 * time.Minute
		var ends endings
		srv := newServer(t, ends.app, &continuity.Options{IdleTimeout: idle, Logger: quietLogger()})
		b := continuitytest.New(t, srv)
		assert.Equal(t, "1", b.Get("/").Body)
		assert.Equal(t, "2", b.Reload().Body)

		time.Sleep(idle - time.Nanosecond)
		synctest.Wait()
		assert.Empty(t, ends.reasons(), "not idle for IdleTimeout yet")
		assert.Equal(t, "3", b.Reload().Body, "and the session goes on")

		time.Sleep(idle + idle/4)
		synctest.Wait()
		require.Len(t, ends.reasons(), 1, "reaped at most a quarter of IdleTimeout late")
		assert.ErrorIs(t, ends.reasons()[0], continuity.EndIdle)
		assert.Zero(t, srv.Metrics().LiveSessions)
		assert.Equal(t, "1", b.Reload().Body, "the browser's next request starts a new session")
	})
}
