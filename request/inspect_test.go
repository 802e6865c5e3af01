package request

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/handoff"
)

// Exposed hands out copies: a reader changing its copy changes nothing
// the next reader sees.
func TestExposedReturnsCopies(t *testing.T) {
	s := (*Session)(handoff.NewSession(context.Background(), handoff.Options{}))
	assert.Nil(t, s.Exposed())
	require.NoError(t, s.Expose("n", 42))
	got := s.Exposed()
	got["n"][0] = 'X'
	got["other"] = []byte(`1`)
	assert.Equal(t, map[string]string{"n": "42"}, strs(s.Exposed()))
	require.NoError(t, s.Expose("n", nil))
	assert.Nil(t, s.Exposed())
}

// Expose and Exposed are safe for concurrent use (checked under -race).
func TestExposeConcurrently(t *testing.T) {
	s := (*Session)(handoff.NewSession(context.Background(), handoff.Options{}))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				assert.NoError(t, s.Expose(strconv.Itoa(w), i))
				_ = s.Exposed()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, map[string]string{"0": "99", "1": "99", "2": "99", "3": "99"}, strs(s.Exposed()))
}

func strs[M ~map[string]V, V ~[]byte](m M) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}
