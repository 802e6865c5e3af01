package redistore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/redistore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is one redis-server shared by the "nodes" of a test: each node has
// a client (and stores) of its own, as separate processes would.
type env struct {
	t   *testing.T
	srv *redistest.Server
}

func newEnv(t *testing.T, o redistest.Options) *env {
	return &env{t: t, srv: redistest.Start(t, o)}
}

// client is a node's connection pool, closed when the test ends.
func (e *env) client() *redis.Client {
	opt, err := redis.ParseURL(e.srv.URL())
	require.NoError(e.t, err)
	c := redis.NewClient(opt)
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

// store is a node's progress store, on a client of its own, closed (before
// its client) when the test ends.
func (e *env) store(o redistore.ProgressOptions) *redistore.ProgressStore {
	s, err := redistore.NewProgressStore(e.client(), o)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { require.NoError(e.t, s.Close()) })
	return s
}

// ctx is a context bounding one step of a test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// eventually waits for cond, checking often.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 2*time.Millisecond, what)
}
