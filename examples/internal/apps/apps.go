// Package apps holds the applications of the example programs, so that
// each examples/NAME program and the tour serve the same code. Every page
// uses relative links and forms only ("?..." and forms with no action), so
// an application works at / and mounted under a prefix alike.
package apps

import (
	"fmt"
	"html"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/continuity-go/continuity"
)

// page writes a small HTML5 page. title is text; body is HTML the caller
// has escaped.
func page(r *continuity.Request, title, body string) {
	r.Printf(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>%[1]s</h1>
%s
</body>
</html>
`, html.EscapeString(title), body)
}

// Counter counts one browser's requests: the page shows
// <span id="count">N</span>, with N = 1, 2, 3 … The count is a local
// variable of the session goroutine; nothing is stored anywhere else.
func Counter(r *continuity.Request) {
	for n := 1; ; n++ {
		page(r, "Counter", fmt.Sprintf(`<p>You have loaded this page <span id="count">%d</span> time(s).</p>
<p><a href="?">Count again</a></p>`, n))
		r.Next()
	}
}

// Hello is the Continuity synopsis: it asks for a name (an input named
// "name"), then says "Hello, NAME!", then starts over.
func Hello(r *continuity.Request) {
	for {
		name := ""
		for name == "" { // an empty answer asks again
			page(r, "Hello", `<form method="post">
<label>What is your name? <input name="name" autofocus></label>
<button type="submit">Say hello</button>
</form>`)
			name = strings.TrimSpace(r.Next().Param("name"))
		}
		page(r, "Hello", fmt.Sprintf(`<p>Hello, %s!</p>
<p><a href="?">Start over</a></p>`, html.EscapeString(name)))
		r.Next()
	}
}

// Guess returns the number guessing game: guess a number from 1 to 100,
// sent as the parameter "guess"; each answer says "too low", "too high" or
// "correct", and a correct guess starts a new game with a new number.
//
// pick chooses each game's secret from 1 to 100; nil means uniformly at
// random. Tests pass their own to know the secret. pick runs on session
// goroutines, concurrently for different browsers.
func Guess(pick func() int) func(*continuity.Request) {
	if pick == nil {
		pick = func() int { return rand.IntN(100) + 1 }
	}
	return func(r *continuity.Request) {
		msg := "I am thinking of a number from 1 to 100. Can you guess it?"
		for {
			secret, tries := pick(), 0
			for {
				page(r, "Guess the number", fmt.Sprintf(`<p id="message">%s</p>
<form method="post">
<label>Your guess: <input name="guess" type="number" min="1" max="100" required autofocus></label>
<button type="submit">Guess</button>
</form>`, msg))
				r.Next()
				if !r.Has("guess") {
					continue // a reload, say: show the same page again
				}
				in := strings.TrimSpace(r.Param("guess"))
				g, err := strconv.Atoi(in)
				if err != nil || g < 1 || g > 100 {
					msg = fmt.Sprintf("“%s” is not a whole number from 1 to 100. Please try again.", html.EscapeString(in))
					continue
				}
				tries++
				if g == secret {
					break
				}
				hint := "too low"
				if g > secret {
					hint = "too high"
				}
				msg = fmt.Sprintf("%d is %s. Guess again.", g, hint)
			}
			msg = fmt.Sprintf("%d is correct! You took %d %s. New game: I am thinking of another number from 1 to 100.",
				secret, tries, plural(tries, "guess", "guesses"))
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Callbacks binds links and buttons to Go closures (Seaside style): "+1"
// and "-1" change a number, shown as <span id="value">N</span>, and
// "Reset" sets it back to 0. Each link works once per page; links from
// older pages do nothing.
func Callbacks(r *continuity.Request) {
	n := 0
	for {
		page(r, "Callbacks", fmt.Sprintf(`<p>The number is <span id="value">%d</span>.</p>
<p>%s %s</p>
<form method="post">%s</form>`,
			n,
			r.Link("+1", func() { n++ }),
			r.Link("-1", func() { n-- }),
			r.Button("Reset", func() { n = 0 })))
		r.Next()
		r.RunCallbacks()
	}
}
