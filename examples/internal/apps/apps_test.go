package apps_test

import (
	"html"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const countRE = `<span id="count">(\d+)</span>`

func TestCounter(t *testing.T) {
	ts := webtest.ServeApp(t, apps.Counter)
	alice := webtest.NewBrowser(t, ts)
	page := alice.Get(ts.URL)
	assert.Equal(t, "1", webtest.Find(t, page, countRE))
	for want := 2; want <= 3; want++ {
		next := webtest.Resolve(t, ts.URL+"/", webtest.Find(t, page, `<a href="([^"]*)">Count again</a>`))
		page = alice.Get(next)
		assert.Equal(t, strconv.Itoa(want), webtest.Find(t, page, countRE))
	}

	// A second browser has its own session, and its own count.
	bob := webtest.NewBrowser(t, ts)
	assert.Equal(t, "1", webtest.Find(t, bob.Get(ts.URL), countRE))
	assert.Equal(t, "2", webtest.Find(t, bob.Get(ts.URL+"/anywhere"), countRE))
	assert.Equal(t, "4", webtest.Find(t, alice.Get(ts.URL), countRE))
}

func TestHello(t *testing.T) {
	ts := webtest.ServeApp(t, apps.Hello)
	b := webtest.NewBrowser(t, ts)
	home := ts.URL + "/"

	page := b.Get(home)
	assert.Contains(t, page, `<form method="post">`)
	assert.Contains(t, page, `<input name="name"`)

	// An empty name asks again.
	page = b.Post(home, url.Values{"name": {"  "}})
	assert.Contains(t, page, `<input name="name"`)
	assert.NotContains(t, page, "Hello, ")

	name := `<script>alert("Bobby")</script> & co`
	page = b.Post(home, url.Values{"name": {name}})
	assert.Contains(t, page, "Hello, "+html.EscapeString(name)+"!")
	assert.NotContains(t, page, "<script>")

	// Start over.
	page = b.Get(webtest.Resolve(t, home, webtest.Find(t, page, `<a href="([^"]*)">Start over</a>`)))
	assert.Contains(t, page, `<input name="name"`)
	page = b.Post(home, url.Values{"name": {"Ada"}})
	assert.Contains(t, page, "Hello, Ada!")
}

// secrets returns a pick function that hands out ns in turn, and a count
// of how many it has handed out.
func secrets(ns ...int) (func() int, *atomic.Int32) {
	var i atomic.Int32
	return func() int { return ns[int(i.Add(1)-1)%len(ns)] }, &i
}

func TestGuess(t *testing.T) {
	pick, picked := secrets(42, 7, 13, 99)
	ts := webtest.ServeApp(t, apps.Guess(pick))
	b := webtest.NewBrowser(t, ts)
	home := ts.URL + "/"
	guess := func(g string) string {
		t.Helper()
		page := b.Post(home, url.Values{"guess": {g}})
		assert.Contains(t, page, `<input name="guess"`)
		return webtest.Find(t, page, `<p id="message">([^<]*)</p>`)
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
		msg := guess(s.guess)
		assert.Contains(t, msg, s.want, "guess %q", s.guess)
		assert.NotContains(t, msg, "42", "the secret leaked")
	}
	// Input is escaped in the answer.
	assert.Contains(t, guess("<b>"), "&lt;b&gt;")
	// A request without a guess (a reload) changes nothing.
	assert.Contains(t, webtest.Find(t, b.Get(home), `<p id="message">([^<]*)</p>`), "&lt;b&gt;")

	msg := guess("42")
	assert.Contains(t, msg, "42 is correct")
	assert.Contains(t, msg, "4 guesses") // 30, 60, 41 and 42; invalid input does not count
	assert.Contains(t, msg, "New game")
	require.EqualValues(t, 2, picked.Load(), "a new game picks a new secret")

	// The new game's secret is 7.
	assert.Contains(t, guess("42"), "too high")
	assert.Contains(t, guess("7"), "7 is correct! You took 2 guesses.")
	require.EqualValues(t, 3, picked.Load()) // the third game's secret is 13

	// Another browser plays its own game, with its own secret, 99.
	other := webtest.NewBrowser(t, ts)
	other.Get(home)
	assert.EqualValues(t, 4, picked.Load())
	assert.Contains(t, other.Post(home, url.Values{"guess": {"99"}}), "99 is correct! You took 1 guess.")
	assert.Contains(t, guess("99"), "99 is too high")
}

// TestGuessRandom plays against the default random secret by bisection:
// it must win within 7 guesses.
func TestGuessRandom(t *testing.T) {
	ts := webtest.ServeApp(t, apps.Guess(nil))
	b := webtest.NewBrowser(t, ts)
	b.Get(ts.URL)
	lo, hi := 1, 100
	for range 7 {
		g := (lo + hi) / 2
		msg := webtest.Find(t, b.Post(ts.URL, url.Values{"guess": {strconv.Itoa(g)}}), `<p id="message">([^<]*)</p>`)
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

const valueRE = `<span id="value">(-?\d+)</span>`

func TestCallbacks(t *testing.T) {
	ts := webtest.ServeApp(t, apps.Callbacks)
	b := webtest.NewBrowser(t, ts)
	home := ts.URL + "/"
	click := func(b *webtest.Browser, page, label string) string {
		t.Helper()
		href := webtest.Find(t, page, `<a href="([^"]*)">`+label+`</a>`)
		return b.Get(webtest.Resolve(t, home, href))
	}

	page := b.Get(home)
	assert.Equal(t, "0", webtest.Find(t, page, valueRE))
	first := page
	page = click(b, page, `\+1`)
	assert.Equal(t, "1", webtest.Find(t, page, valueRE))
	page = click(b, page, `\+1`)
	assert.Equal(t, "2", webtest.Find(t, page, valueRE))
	page = click(b, page, `-1`)
	assert.Equal(t, "1", webtest.Find(t, page, valueRE))

	// A link from an older page does nothing.
	page = click(b, first, `\+1`)
	assert.Equal(t, "1", webtest.Find(t, page, valueRE))

	// The Reset button is a callback too, submitted with its form.
	tok := webtest.Find(t, page, `<button type="submit" name="_cb" value="([^"]+)">Reset</button>`)
	assert.Contains(t, page, `<form method="post">`)
	page = b.Post(home, url.Values{"_cb": {tok}})
	assert.Equal(t, "0", webtest.Find(t, page, valueRE))

	// Another browser's number is its own, and its links are its own.
	other := webtest.NewBrowser(t, ts)
	otherPage := other.Get(home)
	assert.Equal(t, "-1", webtest.Find(t, click(other, otherPage, `-1`), valueRE))
	assert.Equal(t, "0", webtest.Find(t, click(b, otherPage, `-1`), valueRE), "b ran other's callback")
	assert.Equal(t, "0", webtest.Find(t, b.Get(home), valueRE))
}
