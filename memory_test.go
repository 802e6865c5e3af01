//go:build !race

// The race detector enlarges every frame, so stack sizes are only
// meaningful without it.

package continuity_test

import (
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// Issue 13 #1: a parked session costs its goroutine's stack, and Go never
// shrinks the stack of a goroutine that still uses a quarter of it, as one
// waiting in Next does: a session whose first page made its stack grow
// past the 2 KiB a goroutine starts with keeps 4 KiB for its whole life.
// The framework's frames on the session goroutine (its start-up, a Debug
// log call with Debug off, the write path, net/http's response writer)
// must leave an application that formats its page with fmt room in 2 KiB.
func TestParkedSessionsKeepSmallStacks(t *testing.T) {
	const n = 2000
	app := func(r *continuity.Request) {
		for i := 1; ; i++ {
			r.Printf(`<!doctype html><title>%s</title><p>You have loaded this page <span id="count">%d</span> time(s).</p>`, "Counter", i)
			r.Next()
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil)) // Info: Debug is off, as by default
	srv, ts := start(t, app, &continuity.Options{Logger: logger, MaxSessions: 2 * n})
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr} // no cookie jar: every request starts a session
	before := stackInUse()
	for range n {
		status, _ := get(t, c, ts.URL+"/")
		require.Equal(t, http.StatusOK, status)
	}
	require.Equal(t, n, srv.Metrics().LiveSessions)
	perSession := float64(stackInUse()-before) / n
	assert.LessOrEqual(t, perSession, 2048*1.25, "stack bytes per parked session")
}

func stackInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse
}
