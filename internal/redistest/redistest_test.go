package redistest_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func client(t *testing.T, s *redistest.Server) *redis.Client {
	opt, err := redis.ParseURL(s.URL())
	require.NoError(t, err)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestStartAnswersWithoutPersistence(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	c := client(t, s)
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	cfg, err := c.ConfigGet(ctx, "save").Result()
	require.NoError(t, err)
	require.Equal(t, "", cfg["save"])
	cfg, err = c.ConfigGet(ctx, "appendonly").Result()
	require.NoError(t, err)
	require.Equal(t, "no", cfg["appendonly"])

	s.Restart()
	_, err = c.Get(ctx, "k").Result()
	require.ErrorIs(t, err, redis.Nil, "an in-memory server forgets on restart")
}

func TestAppendOnlyKeepsDataAcrossAKill(t *testing.T) {
	s := redistest.Start(t, redistest.Options{AppendOnly: true, AppendFsync: "always"})
	c := client(t, s)
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	s.Kill()
	s.Restart()
	v, err := c.Get(ctx, "k").Result()
	require.NoError(t, err)
	require.Equal(t, "v", v)
}

func TestStopIsIdempotent(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	s.Stop()
	s.Stop()
	require.Error(t, client(t, s).Ping(context.Background()).Err())
}
