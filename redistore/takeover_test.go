package redistore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/redistore"
)

// sharedKeys are the signing keys every node of the tests shares.
func sharedKeys(t *testing.T) []continuity.Key {
	keys, err := continuity.ReadKeys(strings.NewReader("6f1d0c5e9b7a4d2e8c3f1a0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e\n"))
	require.NoError(t, err)
	return keys
}

// counterFlow shows its step number, one step per request, and never
// uses step tokens: a shared journal records its inputs anyway.
func counterFlow(r *continuity.Request) {
	for n := 1; ; n++ {
		fmt.Fprintf(r, "<p>step %d</p>", n)
		r.Next()
	}
}

// ctNode is one node of a deployment, in process: a server on a Redis
// client of its own.
type ctNode struct {
	srv *continuity.Server
	rdb *redis.Client
	web *httptest.Server
}

func (e *env) node(t *testing.T, name string, leaseTTL time.Duration) *ctNode {
	return e.nodeWith(t, name, leaseTTL, counterFlow, nil)
}

// nodeWith is a node that runs flow, logging to logger (nil: the
// default), with its options changed by opts.
func (e *env) nodeWith(t *testing.T, name string, leaseTTL time.Duration, flow func(*continuity.Request), logger *slog.Logger, opts ...func(*continuity.Options)) *ctNode {
	opt, err := redis.ParseURL(e.srv.URL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	store, err := redistore.NewJournalStore(rdb, redistore.JournalOptions{LeaseTTL: leaseTTL, AcquirePoll: 20 * time.Millisecond})
	require.NoError(t, err)
	o := &continuity.Options{Keys: sharedKeys(t), Journal: store, Node: name, Logger: logger}
	for _, f := range opts {
		f(o)
	}
	srv, err := continuity.New(flow, o)
	require.NoError(t, err)
	n := &ctNode{srv: srv, rdb: rdb, web: httptest.NewServer(srv)}
	t.Cleanup(n.stop)
	return n
}

// stop shuts the node down (again, harmlessly).
func (n *ctNode) stop() {
	n.web.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.srv.Shutdown(ctx)
	n.rdb.Close()
}

// die stops the node as a crash would: its Redis connection goes first,
// so that it releases no lease and deletes no journal.
func (n *ctNode) die() {
	n.rdb.Close()
	n.stop()
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	res, err := c.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

func TestTakeoverAfterANodeDies(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := e.node(t, "a", 400*time.Millisecond)
	b := e.node(t, "b", 400*time.Millisecond)
	c := browser(t) // one jar: both nodes are 127.0.0.1, as behind one balancer
	for i := 1; i <= 5; i++ {
		_, body := get(t, c, a.web.URL+"/")
		require.Contains(t, body, fmt.Sprintf("step %d<", i))
	}
	a.die()
	start := time.Now()
	code, body := get(t, c, b.web.URL+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "step 6<", "B replays the journal and serves the next step")
	t.Logf("takeover after a crash took %v (lease TTL 400ms)", time.Since(start))
	_, body = get(t, c, b.web.URL+"/")
	assert.Contains(t, body, "step 7<")
}

func TestDrainHandsSessionsOffAtOnce(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := e.node(t, "a", time.Minute) // a lapse would take a minute
	b := e.node(t, "b", time.Minute)
	c := browser(t)
	for i := 1; i <= 3; i++ {
		_, body := get(t, c, a.web.URL+"/")
		require.Contains(t, body, fmt.Sprintf("step %d<", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.srv.Drain(ctx))
	start := time.Now()
	_, body := get(t, c, b.web.URL+"/")
	assert.Contains(t, body, "step 4<")
	assert.Less(t, time.Since(start), 5*time.Second, "the lease was released, not waited out")
}

func TestFencedOwnerCannotAppend(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := e.node(t, "a", time.Minute) // A would renew only every 20s
	b := e.node(t, "b", 400*time.Millisecond)
	c := browser(t)
	for i := 1; i <= 5; i++ {
		_, body := get(t, c, a.web.URL+"/")
		require.Contains(t, body, fmt.Sprintf("step %d<", i))
	}
	// A is paused past its lease: the lease lapses while A still runs
	// its copy of the session.
	raw := e.client()
	leases, err := raw.Keys(ctx(t), "continuity:journal:*:lease").Result()
	require.NoError(t, err)
	require.Len(t, leases, 1)
	require.NoError(t, raw.Del(ctx(t), leases[0]).Err())

	_, body := get(t, c, b.web.URL+"/")
	require.Contains(t, body, "step 6<", "B took the session over")

	code, body := get(t, c, a.web.URL+"/")
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "This session moved", "A's append was fenced")
	assert.Eventually(t, func() bool { return a.srv.Metrics().LiveSessions == 0 }, 5*time.Second, 10*time.Millisecond, "A ended its copy")

	_, body = get(t, c, b.web.URL+"/")
	assert.Contains(t, body, "step 7<", "A wrote nothing into B's journal")
}
