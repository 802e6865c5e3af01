package redistore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/redistore"
)

// TestPathSessionsOfOneBrowserWithASharedJournal: in ByCookie|ByPath mode
// (the chat's) a browser holds one session per path, all under one
// browser ID; with a shared journal its second path's session must start
// at once, not wait for a lease that its first path's session holds (and
// then answer 503).
func TestPathSessionsOfOneBrowserWithASharedJournal(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	store, err := redistore.NewJournalStore(e.client(), redistore.JournalOptions{LeaseTTL: 2 * time.Second, AcquirePoll: 20 * time.Millisecond})
	require.NoError(t, err)
	srv, err := continuity.New(func(r *continuity.Request) {
		for n := 1; ; n++ {
			fmt.Fprintf(r, "<p>%s step %d</p>", r.Path(), n)
			r.Next()
		}
	}, &continuity.Options{Keys: sharedKeys(t), Journal: store, Node: "a", Mode: continuity.ByCookie | continuity.ByPath})
	require.NoError(t, err)
	web := httptest.NewServer(srv)
	t.Cleanup(func() {
		web.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	c := browser(t)
	for n := 1; n <= 2; n++ {
		for _, path := range []string{"/send", "/receive"} {
			code, body := get(t, c, web.URL+path)
			require.Equal(t, http.StatusOK, code, "%s: %s", path, body)
			assert.Contains(t, body, fmt.Sprintf("%s step %d<", path, n))
		}
	}
}

// TestShutdownEndsSessionsThatAreNotShared: with a shared journal,
// Shutdown hands the shared sessions off and waits for them; the
// sessions that stay on the node (path mode's) are ended at once, as
// without a shared journal, not waited for until Shutdown's deadline.
func TestShutdownEndsSessionsThatAreNotShared(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	store, err := redistore.NewJournalStore(e.client(), redistore.JournalOptions{})
	require.NoError(t, err)
	srv, err := continuity.New(func(r *continuity.Request) {
		for {
			r.Print("here")
			r.Next()
		}
	}, &continuity.Options{Keys: sharedKeys(t), Journal: store, Node: "a", Mode: continuity.ByCookie | continuity.ByPath})
	require.NoError(t, err)
	web := httptest.NewServer(srv)
	defer web.Close()
	code, _ := get(t, browser(t), web.URL+"/receive")
	require.Equal(t, http.StatusOK, code)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.NoError(t, ctx.Err(), "Shutdown waited out its deadline")
	assert.Zero(t, srv.Metrics().LiveSessions)
}
