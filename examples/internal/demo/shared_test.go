package demo

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
)

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
