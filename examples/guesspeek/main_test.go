package main

import (
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve builds the server as main does, with pick choosing the secrets.
func serve(t *testing.T, pick func() int) (*continuity.Server, *httptest.Server) {
	t.Helper()
	s, err := build(pick)(demo.Config{})
	require.NoError(t, err)
	return s.(withPeek).Server, webtest.Serve(t, s, s)
}

// A player who reads /peek wins in one guess.
func TestWinInOneGuessByPeeking(t *testing.T) {
	_, ts := serve(t, nil)
	other := webtest.NewBrowser(t, ts)
	other.Get(ts.URL + "/") // another game, to tell apart

	b := webtest.NewBrowser(t, ts)
	page := b.Get(ts.URL + "/")
	id := webtest.Find(t, page, `<span id="game">([0-9a-f]+)</span>`)
	peekURL := webtest.Resolve(t, ts.URL+"/", webtest.Find(t, page, `<a href="([^"]+)">Peek`))

	peeked := b.Get(peekURL)
	assert.Equal(t, 2, len(regexp.MustCompile(`<tr id="game-`).FindAllString(peeked, -1)), "both games:\n%s", peeked)
	secret := webtest.Find(t, peeked, `<tr id="game-`+id+`"><td>`+id+`</td><td class="secret">(\d+)</td><td>0</td>`)

	page = b.Post(ts.URL+"/", url.Values{"guess": {secret}})
	assert.Contains(t, page, `<p id="message">`+secret+` is correct! You took 1 guess(es).`)

	// The new game has a new snapshot; the count started over.
	peeked = b.Get(peekURL)
	webtest.Find(t, peeked, `<tr id="game-`+id+`"><td>`+id+`</td><td class="secret">(\d+)</td><td>0</td>`)
}

// The game itself: too low, too high, bad input (escaped), correct.
func TestGuessGame(t *testing.T) {
	srv, ts := serve(t, func() int { return 42 })
	b := webtest.NewBrowser(t, ts)
	b.Get(ts.URL + "/")
	for guess, want := range map[string]string{
		"10":       "10 is too low. Guess again.",
		"90":       "90 is too high. Guess again.",
		"<b>x</b>": "“&lt;b&gt;x&lt;/b&gt;” is not a whole number from 1 to 100.",
		"101":      "“101” is not a whole number",
		"42":       "42 is correct! You took 3 guess(es).",
	} {
		if guess == "42" {
			continue
		}
		assert.Contains(t, b.Post(ts.URL+"/", url.Values{"guess": {guess}}), want)
	}
	assert.Contains(t, b.Post(ts.URL+"/", url.Values{"guess": {"42"}}), "42 is correct! You took 3 guess(es).")

	// /peek is a plain handler: reading it makes no session.
	live := srv.Metrics().LiveSessions
	webtest.NewBrowser(t, ts).Get(ts.URL + "/peek")
	assert.Equal(t, live, srv.Metrics().LiveSessions)
}

// With no game, /peek says so; it shows nothing a session did not expose.
func TestPeekShowsOnlyExposedGames(t *testing.T) {
	srv, err := continuity.New(func(r *continuity.Request) {
		r.Session().SetValue("game", "not exposed")
		r.Print("<!doctype html><title>x</title></html>")
		r.Next()
	}, nil)
	require.NoError(t, err)
	ts := webtest.Serve(t, newWithPeek(srv), srv)
	b := webtest.NewBrowser(t, ts)
	b.Get(ts.URL + "/")
	page := b.Get(ts.URL + "/peek")
	assert.Contains(t, page, "No games.")
	assert.NotContains(t, page, "not exposed")
}
