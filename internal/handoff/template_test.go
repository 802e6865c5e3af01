package handoff

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sessions made from one Template share its settings and its callbacks,
// which find each session's owner record through Owner.
func TestTemplateSessionsShareSettingsAndFindTheirOwner(t *testing.T) {
	var ends []string
	tmpl := NewTemplate(Options{
		App: func(r *Handle) {
			fmt.Fprint(r, r.Session().LogID())
			r.Next()
		},
		OnEnd: func(s *Session, reason error) { ends = append(ends, s.Owner().(string)) },
		Renew: func(s *Session, r *http.Request) (string, *http.Cookie, error) {
			return "new-" + s.Owner().(string), nil, nil
		},
	})
	for _, name := range []string{"a", "b"} {
		s := tmpl.NewSession(context.Background(), Options{LogID: "log-" + name, Owner: name})
		done := make(chan struct{})
		go func() { defer close(done); s.Run() }()
		w, retry := serveOnce(s, getReq("/"))
		require.False(t, retry)
		assert.Equal(t, "log-"+name, w.Body.String())
		token, _, err := s.renew(s, getReq("/"))
		require.NoError(t, err)
		assert.Equal(t, "new-"+name, token)
		s.Close(EndShutdown)
		<-done
	}
	assert.Equal(t, []string{"a", "b"}, ends)
}
