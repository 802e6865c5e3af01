package redistore_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
)

// A sign-up flow in three deploys. signupV1 asks a name, then an e-mail.
func signupV1(r *continuity.Request) {
	fmt.Fprint(r, "<p>name?</p>")
	name := r.Next().Param("name")
	fmt.Fprint(r, "<p>email?</p>")
	email := r.Next().Param("email")
	for {
		fmt.Fprintf(r, "<p>done: %s - %s</p>", name, email)
		r.Next()
	}
}

// signupV2 adds a phone step between them, behind Version: sessions that
// signupV1 recorded go on without it.
func signupV2(r *continuity.Request) {
	fmt.Fprint(r, "<p>name?</p>")
	name := r.Next().Param("name")
	phone := "-"
	if r.Version("phone", 1) >= 1 {
		fmt.Fprint(r, "<p>phone?</p>")
		phone = r.Next().Param("phone")
	}
	fmt.Fprint(r, "<p>email?</p>")
	email := r.Next().Param("email")
	for {
		fmt.Fprintf(r, "<p>done: %s %s %s</p>", name, phone, email)
		r.Next()
	}
}

// signupUnsafe reserves the name with a side effect that signupV2 did not
// have, and not behind Version: a replay of a session recorded by
// signupV2 meets a Once its journal does not have.
func signupUnsafe(r *continuity.Request) {
	fmt.Fprint(r, "<p>name?</p>")
	name := r.Next().Param("name")
	continuity.Once(r, "reserve", func(context.Context, string) (string, error) { return name, nil })
	fmt.Fprint(r, "<p>phone?</p>")
	r.Next()
	fmt.Fprint(r, "<p>email?</p>")
	for {
		r.Next()
	}
}

// TestDeployWithAChangedFlow: sessions move from nodes running one
// version of a flow to nodes running the next (a rolling deploy: each
// node drains, and the browser's next request lands on another). A
// session recorded by the old code replays on the new through Version;
// one the new code cannot replay gets the divergence page and a log line,
// never another session or a wrong state.
func TestDeployWithAChangedFlow(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	var logs redistest.SyncBuffer
	old := e.nodeWith(t, "old", time.Minute, signupV1, nil)
	new1 := e.nodeWith(t, "new1", time.Minute, signupV2, nil)
	new2 := e.nodeWith(t, "new2", time.Minute, signupV2, nil)
	unsafe := e.nodeWith(t, "unsafe", time.Minute, signupUnsafe, slog.New(slog.NewTextHandler(&logs, nil)))
	drain := func(n *ctNode) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, n.srv.Drain(ctx))
	}
	step := func(c *http.Client, n *ctNode, query string, want string) {
		t.Helper()
		code, body := get(t, c, n.web.URL+"/"+query)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, want)
	}

	// Recorded by the old code, finished by the new.
	ann := browser(t)
	step(ann, old, "", "name?")
	step(ann, old, "?name=ann", "email?")
	drain(old)
	step(ann, new1, "?email=ann@example.com", "done: ann - ann@example.com")

	// Recorded by the new code with its phone step, which a second new
	// node replays.
	bo := browser(t)
	step(bo, new1, "", "name?")
	step(bo, new1, "?name=bo", "phone?")
	drain(new1)
	step(bo, new2, "?phone=555", "email?")
	step(bo, new2, "?email=bo@example.com", "done: bo 555 bo@example.com")

	// A change that is not behind Version: the replay diverges.
	cy := browser(t)
	step(cy, new2, "", "name?")
	step(cy, new2, "?name=cy", "phone?")
	drain(new2)
	code, body := get(t, cy, unsafe.web.URL+"/?phone=777")
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.Contains(t, body, "This session cannot go on")
	assert.Contains(t, body, `called Once(&#34;reserve&#34;), which the journal does not have`)
	assert.Contains(t, logs.String(), "replay diverged from the journal")
	assert.Eventually(t, func() bool { return unsafe.srv.Metrics().LiveSessions == 0 }, 5*time.Second, 10*time.Millisecond, "the session ended")
	_, body = get(t, cy, unsafe.web.URL+"/")
	assert.Contains(t, body, "name?", "a reload starts a new session")
}
