package continuity_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// A page that carries a step token may be kept by the browser for its
// back button (private, no-cache); every other page is no-store.
func TestTokenizedPagesAreKeptForTheBackButton(t *testing.T) {
	app := func(r *continuity.Request) {
		for {
			if r.Path() == "/token" {
				r.Printf(`<form method="post">%s</form>`, r.StepField())
			} else {
				r.Print("plain")
			}
			r.Next()
		}
	}
	srv, err := continuity.New(app, &continuity.Options{Logger: quietLogger()})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })

	for path, want := range map[string]string{"/plain": "no-store", "/token": "private, no-cache"} {
		res, err := http.Get(ts.URL + path)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, want, res.Header.Get("Cache-Control"), path)
	}
}
