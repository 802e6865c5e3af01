package continuity_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// A session's exposed values appear in the admin listing under its hashed
// ID, as they were when exposed; nothing else of the session does.
func TestAdminListingShowsExposedValuesOnly(t *testing.T) {
	type board struct {
		Moves []string `json:"moves"`
	}
	app := func(r *continuity.Request) {
		b := &board{}
		private := "private-local-variable"
		r.Session().SetValue("key", "private-session-value")
		for n := 1; ; n++ {
			b.Moves = append(b.Moves, "m"+strconv.Itoa(n))
			assert.NoError(t, r.Session().Expose("board", b))
			assert.NoError(t, r.Session().Expose("count", n))
			assert.NoError(t, r.Session().Expose("temporary", "first page only"))
			if n > 1 {
				assert.NoError(t, r.Session().Expose("temporary", nil))
			}
			// Changed after exposing: the listing keeps the snapshot.
			b.Moves = append(b.Moves, "unexposed")
			r.Printf("%s %d", private, n)
			r.Next()
		}
	}
	srv, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	admin := plainServer(t, srv.AdminHandler())
	list := func() (string, []continuity.SessionInfo) {
		t.Helper()
		code, body := get(t, http.DefaultClient, admin.URL)
		require.Equal(t, http.StatusOK, code)
		var l struct{ Sessions []continuity.SessionInfo }
		require.NoError(t, json.Unmarshal([]byte(body), &l))
		return body, l.Sessions
	}

	c := browser(t)
	get(t, c, ts.URL+"/")
	body, sessions := list()
	require.Len(t, sessions, 1)
	assert.JSONEq(t, `{"moves":["m1"]}`, string(sessions[0].Exposed["board"]))
	assert.JSONEq(t, `1`, string(sessions[0].Exposed["count"]))
	assert.JSONEq(t, `"first page only"`, string(sessions[0].Exposed["temporary"]))

	get(t, c, ts.URL+"/")
	body, sessions = list()
	require.Len(t, sessions, 1)
	s := sessions[0]
	assert.Len(t, s.ID, 16)
	// The snapshots of the last Expose, without the removed name.
	assert.Len(t, s.Exposed, 2)
	assert.JSONEq(t, `{"moves":["m1","unexposed","m2"]}`, string(s.Exposed["board"]))
	assert.JSONEq(t, `2`, string(s.Exposed["count"]))
	assert.NotContains(t, body, "private-")
	assert.NotContains(t, body, "temporary")

	// The Go accessor lists the same.
	in := srv.Inspect()
	require.Len(t, in, 1)
	assert.Equal(t, s.ID, in[0].ID)
	assert.JSONEq(t, string(s.Exposed["board"]), string(in[0].Exposed["board"]))

	// A session that exposes nothing has no "exposed" member.
	srv2, ts2 := start(t, counter, &continuity.Options{Logger: quietLogger()})
	get(t, browser(t), ts2.URL+"/")
	_, body = get(t, http.DefaultClient, plainServer(t, srv2.AdminHandler()).URL)
	assert.NotContains(t, body, "exposed")
}

// A value JSON cannot encode is refused with an error, keeping what was
// exposed before.
func TestExposeRefusesWhatJSONCannotEncode(t *testing.T) {
	errs := make(chan error, 1)
	app := func(r *continuity.Request) {
		assert.NoError(t, r.Session().Expose("v", "kept"))
		errs <- r.Session().Expose("v", make(chan int))
		r.Print("ok")
		r.Next()
	}
	srv, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	get(t, browser(t), ts.URL+"/")
	assert.ErrorContains(t, <-errs, `continuity: expose "v": json: unsupported type: chan int`)
	in := srv.Inspect()
	require.Len(t, in, 1)
	assert.JSONEq(t, `"kept"`, string(in[0].Exposed["v"]))
}
