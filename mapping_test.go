package continuity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// TestPathAloneIsRefused: ByPath alone would give every browser that
// visits a path the same session (one user sees another's flow).
func TestPathAloneIsRefused(t *testing.T) {
	srv, err := continuity.New(counter, &continuity.Options{Mode: continuity.ByPath, Logger: quietLogger()})
	require.Error(t, err)
	assert.Nil(t, srv)
	assert.Contains(t, err.Error(), "ByPath alone")
}
