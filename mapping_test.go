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

// TestSessionTokenIsEmptyOutsideQueryMode: in cookie modes the token is
// the HttpOnly cookie's value; an app that prints it would put it where
// any script on the page can read it.
func TestSessionTokenIsEmptyOutsideQueryMode(t *testing.T) {
	app := func(r *continuity.Request) {
		for {
			r.Printf("[%s]", r.SessionToken())
			r.Next()
		}
	}
	for _, mode := range []continuity.Mode{continuity.ByCookie, continuity.ByCookie | continuity.ByPath, continuity.ByIP} {
		_, ts := start(t, app, &continuity.Options{Mode: mode, Logger: quietLogger()})
		c := browser(t)
		for range 2 {
			_, body := get(t, c, ts.URL+"/")
			assert.Equal(t, "[]", body, "mode %v", mode)
		}
	}
}
