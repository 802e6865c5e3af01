package main

import (
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const messageRE = `<p id="message">([^<]*)</p>`

// secrets returns a pick function that hands out ns in turn, and a count
// of how many it has handed out.
func secrets(ns ...int) (func() int, *atomic.Int32) {
	var i atomic.Int32
	return func() int { return ns[int(i.Add(1)-1)%len(ns)] }, &i
}

func TestGuess(t *testing.T) {
	pick, picked := secrets(42, 7, 13, 99)
	ts := webtest.ServeApp(t, guess(pick))
	b := webtest.NewBrowser(t, ts)
	home := ts.URL + "/"
	play := func(g string) string {
		t.Helper()
		page := b.Post(home, url.Values{"guess": {g}})
		assert.Contains(t, page, `<input name="guess"`)
		return webtest.Find(t, page, messageRE)
	}

	page := b.Get(home)
	assert.Contains(t, page, "from 1 to 100")
	assert.Contains(t, page, `<form method="post">`)

	steps := []struct{ guess, want string }{
		{"30", "30 is too low"},
		{" 60 ", "60 is too high"},
		{"abc", "is not a whole number from 1 to 100"},
		{"0", "is not a whole number from 1 to 100"},
		{"101", "is not a whole number from 1 to 100"},
		{"4.2", "is not a whole number from 1 to 100"},
		{"", "is not a whole number from 1 to 100"},
		{"41", "41 is too low"},
	}
	for _, s := range steps {
		msg := play(s.guess)
		assert.Contains(t, msg, s.want, "guess %q", s.guess)
		assert.NotContains(t, msg, "42", "the secret leaked")
	}
	// Input is escaped in the answer.
	assert.Contains(t, play("<b>"), "&lt;b&gt;")
	// A request without a guess (a reload) changes nothing.
	assert.Contains(t, webtest.Find(t, b.Get(home), messageRE), "&lt;b&gt;")

	msg := play("42")
	assert.Contains(t, msg, "42 is correct")
	assert.Contains(t, msg, "4 guesses") // 30, 60, 41 and 42; invalid input does not count
	assert.Contains(t, msg, "New game")
	require.EqualValues(t, 2, picked.Load(), "a new game picks a new secret")

	// The new game's secret is 7.
	assert.Contains(t, play("42"), "too high")
	assert.Contains(t, play("7"), "7 is correct! You took 2 guesses.")
	require.EqualValues(t, 3, picked.Load()) // the third game's secret is 13

	// Another browser plays its own game, with its own secret, 99.
	other := webtest.NewBrowser(t, ts)
	other.Get(home)
	assert.EqualValues(t, 4, picked.Load())
	assert.Contains(t, other.Post(home, url.Values{"guess": {"99"}}), "99 is correct! You took 1 guess.")
	assert.Contains(t, play("99"), "99 is too high")
}

// TestGuessRandom plays against main's random secret by bisection: it
// must win within 7 guesses.
func TestGuessRandom(t *testing.T) {
	ts := webtest.ServeApp(t, guess(random))
	b := webtest.NewBrowser(t, ts)
	b.Get(ts.URL)
	lo, hi := 1, 100
	for range 7 {
		g := (lo + hi) / 2
		msg := webtest.Find(t, b.Post(ts.URL, url.Values{"guess": {strconv.Itoa(g)}}), messageRE)
		switch {
		case strings.Contains(msg, "correct"):
			return
		case strings.Contains(msg, "too low"):
			lo = g + 1
		case strings.Contains(msg, "too high"):
			hi = g - 1
		default:
			t.Fatalf("unexpected answer %q", msg)
		}
	}
	t.Fatal("bisection did not find the secret in 7 guesses")
}
