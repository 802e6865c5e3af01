package demo

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
