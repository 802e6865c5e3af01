package demo

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/journal"
	"github.com/continuity-go/continuity/redistore"
)

// TestLeaseTTLFlag: -lease-ttl reaches the Redis journal store's leases;
// without it they last redistore's default.
func TestLeaseTTLFlag(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	for _, tt := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"-redis", rs.URL()}, redistore.DefaultLeaseTTL},
		{[]string{"-redis", rs.URL(), "-lease-ttl", "2500ms"}, 2500 * time.Millisecond},
	} {
		c, err := parse("demo", tt.args, io.Discard)
		require.NoError(t, err)
		require.NoError(t, c.open())
		l, ok := c.Options().Journal.(journal.Leaser)
		require.True(t, ok, "-redis gives a leasing journal")
		assert.Equal(t, tt.want, l.LeaseTTL(), "%q", tt.args)
		require.NoError(t, c.shared.close())
	}
}

// TestRedisClient: with -redis, the build gets the client Run opened, for
// the example's own shared state, usable until its server's ServerStop
// hook has run; without -redis, none.
func TestRedisClient(t *testing.T) {
	built := false
	_, stop, _ := start(t, []string{"-addr", "127.0.0.1:0"}, func(c Config) (Server, error) {
		built = true
		assert.Nil(t, c.RedisClient())
		return continuity.New(hello, c.Options())
	})
	require.NoError(t, stop())
	require.True(t, built)

	rs := redistest.Start(t, redistest.Options{})
	var pinged, pingedAtStop error
	_, stop, _ = start(t, []string{"-addr", "127.0.0.1:0", "-redis", rs.URL()}, func(c Config) (Server, error) {
		rdb := c.RedisClient()
		require.NotNil(t, rdb)
		pinged = rdb.Ping(context.Background()).Err()
		o := c.Options()
		o.Hooks.ServerStop = func() { pingedAtStop = rdb.Ping(context.Background()).Err() }
		return continuity.New(hello, o)
	})
	require.NoError(t, stop())
	assert.NoError(t, pinged)
	assert.NoError(t, pingedAtStop, "the client is closed after the server has stopped")
}
