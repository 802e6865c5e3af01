package request

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/handoff"
)

// startSession runs app on a session the test owns; at the end of the test
// the session is closed and its goroutine must have exited.
func startSession(t *testing.T, app func(*Request)) *handoff.Session {
	t.Helper()
	s := handoff.NewSession(context.Background(), handoff.Options{
		App: func(h *handoff.Handle) { app((*Request)(h)) },
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run()
	}()
	t.Cleanup(func() {
		s.Close(EndShutdown)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("session goroutine did not exit")
		}
	})
	return s
}

// serveOnce hands r to s as a net/http handler would.
func serveOnce(s *handoff.Session, r *http.Request) (*httptest.ResponseRecorder, bool) {
	w := httptest.NewRecorder()
	retry := s.Serve(w, r, handoff.Timeouts{Response: 5 * time.Second})
	return w, retry
}

func getReq(target string) *http.Request { return httptest.NewRequest(http.MethodGet, target, nil) }

func recv[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
	}
	var zero T
	return zero
}

func TestCallbacks(t *testing.T) {
	type page struct {
		ran  bool
		log  []string
		body string
	}
	app := func(r *Request) {
		var log []string
		ev := func(name string) func() { return func() { log = append(log, name) } }
		for {
			ran := r.RunCallbacks()
			fmt.Fprintf(r, "ran=%v log=%v\n", ran, log)
			fmt.Fprint(r, r.Link("one <&>", ev("one")), "\n")
			fmt.Fprint(r, r.Button("two \"x\"", ev("two")), "\n")
			fmt.Fprint(r, r.Link("nest", func() {
				log = append(log, "nest")
				// A callback may register another; it survives this
				// render's RunCallbacks and works on the next request.
				fmt.Fprintf(r, "inner=%s\n", r.CallbackURL(ev("inner")))
			}), "\n")
			r.Next()
		}
	}
	rs := startSession(t, app)
	get := func(query string) string {
		t.Helper()
		w, retry := serveOnce(rs, getReq("/"+query))
		require.False(t, retry)
		require.Equal(t, http.StatusOK, w.Code)
		return w.Body.String()
	}
	post := func(form string) string {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w, retry := serveOnce(rs, r)
		require.False(t, retry)
		return w.Body.String()
	}

	body := get("")
	assert.Contains(t, body, "ran=false log=[]")
	assert.Contains(t, body, ">one &lt;&amp;&gt;</a>", "link text is escaped")
	assert.Contains(t, body, `>two &#34;x&#34;</button>`, "button text is escaped")
	assert.Contains(t, body, `<button type="submit" name="_cb" value="`)
	toks := tokens(t, body)
	require.Len(t, toks, 3)

	body = get("?_cb=" + toks[0])
	assert.Contains(t, body, "ran=true log=[one]")
	// The old page's links are forgotten, even the ones not followed.
	body2 := get("?_cb=" + toks[1])
	assert.Contains(t, body2, "ran=false log=[one]", "an old token does nothing")
	body = get("?_cb=" + toks[0])
	assert.Contains(t, body, "ran=false log=[one]", "a token works once")

	// The button posts its token in the form.
	toks = tokens(t, body)
	body = post("_cb=" + toks[1])
	assert.Contains(t, body, "ran=true log=[one two]")

	// Nested registration.
	toks = tokens(t, body)
	body = get("?_cb=" + toks[2])
	assert.Contains(t, body, "ran=true log=[one two nest]")
	inner := tokens(t, body)
	require.Len(t, inner, 4, "three fresh links and the inner one")
	body = get("?_cb=" + inner[0])
	assert.Contains(t, body, "ran=true log=[one two nest inner]")

	// A guessed or garbage token does nothing.
	body = get("?_cb=AAAAAAAAAAAAAAAAAAAAAAAAAA")
	assert.Contains(t, body, "ran=false")
	body = get("?_cb=")
	assert.Contains(t, body, "ran=false")
}

func TestCallbackTokensAreUnique(t *testing.T) {
	got := make(chan []string, 1)
	app := func(r *Request) {
		var urls []string
		for range 2000 {
			urls = append(urls, r.CallbackURL(func() {}))
			r.Button("b", func() {})
		}
		got <- urls
		r.Next()
	}
	startSessionAndServe(t, app)
	urls := recv(t, got)
	seen := make(map[string]bool)
	for _, u := range urls {
		require.Regexp(t, `^\?_cb=[A-Z2-7]{26}$`, u)
		require.False(t, seen[u], "duplicate token %s", u)
		seen[u] = true
	}
}

func startSessionAndServe(t *testing.T, app func(*Request)) {
	t.Helper()
	rs := startSession(t, app)
	_, retry := serveOnce(rs, getReq("/"))
	require.False(t, retry)
}

var tokenRE = regexp.MustCompile(`(?:_cb=|value=")([A-Z2-7]{26})`)

// tokens returns the callback tokens in body, in order.
func tokens(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for _, m := range tokenRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestCallbackParamMatchesTheMachinery(t *testing.T) {
	assert.Equal(t, handoff.CallbackParam, CallbackParam)
}

func TestTokenParamMatchesTheMachinery(t *testing.T) {
	assert.Equal(t, handoff.TokenParam, TokenParam)
}
