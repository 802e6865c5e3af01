package progress

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// lenless is a Store that does not count its meters.
type lenless struct{ Store }

func TestHandlerCounts(t *testing.T) {
	h := New(Options{})
	n, ok := h.Meters()
	assert.True(t, ok, "the memory store counts its meters")
	assert.Zero(t, n)
	assert.Zero(t, h.Watchers())

	h = New(Options{Store: lenless{NewMemoryStore(MemoryOptions{})}})
	_, ok = h.Meters()
	assert.False(t, ok, "a store without Len")
}
