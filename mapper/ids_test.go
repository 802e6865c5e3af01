package mapper

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRandomIDs(t *testing.T) {
	const n = 10000
	seen := make(map[string]bool, n)
	for range n {
		id, err := RandomID()
		require.NoError(t, err)
		require.Len(t, id, 26, "130 bits in base32")
		for _, c := range id {
			require.True(t, strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", c), "%q in %q", c, id)
		}
		require.False(t, seen[id], "duplicate ID %q", id)
		seen[id] = true
	}
}

func TestUUIDs(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		s, err := UUID()
		require.NoError(t, err)
		u, err := uuid.Parse(s)
		require.NoError(t, err)
		assert.Equal(t, uuid.Version(4), u.Version())
		assert.Equal(t, uuid.RFC4122, u.Variant())
		assert.Equal(t, u.String(), s, "canonical form")
		assert.False(t, seen[s])
		seen[s] = true
	}
}
