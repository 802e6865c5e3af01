package continuity_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// Tests of the hand-off between the HTTP handlers and the session
// goroutines, over real HTTP: issue 8 (#1, #5, #13, #14, #15) and issue 9
// (#3, #4).

// doAsync sends req with c on its own goroutine and reports the error, if
// any, once the body has been read.
func doAsync(c *http.Client, req *http.Request) <-chan error {
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	return errc
}

// Issue 8 #1: the BeforeCommit check read the exchange's state without its
// lock while the handler goroutine, seeing the client gone, wrote it under
// the lock. go test -race reported it.
func TestBeforeCommitHookAfterTheClientHasGone(t *testing.T) {
	taken := make(chan struct{})
	wrote := make(chan error, 1)
	app := func(r *continuity.Request) {
		close(taken)
		<-r.ClientGone()
		// Let the handler goroutine mark the request abandoned first: the
		// race detector sees the unlocked read only when it comes after
		// that write (a sleep adds no happens-before edge). A slow machine
		// can only make this test pass wrongly, never fail wrongly.
		time.Sleep(50 * time.Millisecond)
		_, err := r.Write([]byte("late"))
		wrote <- err
		r.Next()
	}
	hooks := continuity.Hooks{BeforeCommit: func(r *continuity.Request) { r.Header().Set("X-Hooked", "yes") }}
	_, ts := start(t, app, &continuity.Options{Hooks: hooks, Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/", nil)
	require.NoError(t, err)
	errc := doAsync(ts.Client(), req)
	<-taken
	cancel()
	require.Error(t, <-errc)
	assert.ErrorIs(t, <-wrote, continuity.ErrClientGone)
}
