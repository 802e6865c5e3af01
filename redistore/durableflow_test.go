package redistore_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
)

// durableCounter asks for durable steps first thing, then counts.
func durableCounter(r *continuity.Request) {
	durable := r.Durable()
	for n := 1; ; n++ {
		fmt.Fprintf(r, "<p>durable=%v</p><p>step %d</p>", durable, n)
		r.Next()
	}
}

// persistCalls is how many commands Redis ran that confirm a durable
// append: WAITAOF on Redis 7.2+, else the CONFIG GET of appendfsync.
func (e *env) persistCalls(t *testing.T) int {
	info, err := e.client().Info(ctx(t), "commandstats").Result()
	require.NoError(t, err)
	n := 0
	for _, name := range []string{"cmdstat_waitaof", "cmdstat_config|get"} {
		if m := regexp.MustCompile(regexp.QuoteMeta(name) + `:calls=(\d+)`).FindStringSubmatch(info); m != nil {
			c, _ := strconv.Atoi(m[1])
			n += c
		}
	}
	return n
}

// TestDurableFlowSurvivesARedisCrash: Redis and the node that runs a
// durable flow are killed together (a power cut); Redis restarts from its
// append-only file, and another node goes on from the step after the
// last one the browser saw.
func TestDurableFlowSurvivesARedisCrash(t *testing.T) {
	e := newEnv(t, redistest.Options{AppendOnly: true, AppendFsync: "always"})
	a := e.nodeWith(t, "a", 300*time.Millisecond, durableCounter, nil)
	c := browser(t)
	before := e.persistCalls(t)
	for i := 1; i <= 5; i++ {
		_, body := get(t, c, a.web.URL+"/")
		require.Contains(t, body, fmt.Sprintf("step %d<", i))
		require.Contains(t, body, "durable=true")
	}
	assert.GreaterOrEqual(t, e.persistCalls(t)-before, 4, "each step after Durable waited for the disk")

	e.srv.Kill()
	a.die()
	e.srv.Restart()
	b := e.nodeWith(t, "b", 300*time.Millisecond, durableCounter, nil)
	code, body := get(t, c, b.web.URL+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "step 6<", "every answered step was on disk")
}

// TestDurableFlowNotConfirmed: a Redis that cannot confirm persistence
// (Redis 7.0 with appendfsync everysec) leaves the flow going, with one
// warning per session, and the journal whole for a takeover.
func TestDurableFlowNotConfirmed(t *testing.T) {
	e := newEnv(t, redistest.Options{AppendOnly: true})
	if e.hasWAITAOF() {
		t.Skip("Redis 7.2+ confirms appends with WAITAOF under appendfsync everysec")
	}
	var logs redistest.SyncBuffer
	a := e.nodeWith(t, "a", time.Minute, durableCounter, slog.New(slog.NewTextHandler(&logs, nil)))
	b := e.nodeWith(t, "b", time.Minute, durableCounter, nil)
	c := browser(t)
	for i := 1; i <= 3; i++ {
		code, body := get(t, c, a.web.URL+"/")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, fmt.Sprintf("step %d<", i))
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "could not be confirmed persisted"), logs.String())
	assert.Contains(t, logs.String(), "appendfsync is everysec")
	require.NoError(t, a.srv.Drain(ctx(t)))
	_, body := get(t, c, b.web.URL+"/")
	assert.Contains(t, body, "step 4<", "the journal is whole")
}

// TestDurableWithoutASharedJournal: in memory, Durable says it cannot.
func TestDurableWithoutASharedJournal(t *testing.T) {
	srv, err := continuity.New(durableCounter, nil)
	require.NoError(t, err)
	web := httptestServer(t, srv)
	_, body := get(t, browser(t), web+"/")
	assert.Contains(t, body, "durable=false")
}

func httptestServer(t *testing.T, srv *continuity.Server) string {
	web := httptest.NewServer(srv)
	t.Cleanup(func() {
		web.Close()
		require.NoError(t, srv.Shutdown(ctx(t)))
	})
	return web.URL
}
