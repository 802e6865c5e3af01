// Command guess is a number guessing game: guess a number from 1 to 100;
// each answer says too low, too high or correct, and then a new game
// begins.
//
//	go run ./examples/guess [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// The game is two plain loops: one per game, one per guess. The secret
// and the number of tries are local variables.
//
//tour:title Guess the number
//tour:about A game from 1 to 100, written as two plain loops.
package main

import (
	"fmt"
	"html/template"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// guess returns the game: guess a number from 1 to 100, sent as the
// parameter "guess"; each answer, in <p id="message">, says "too low",
// "too high" or "correct", and a correct guess starts a new game.
//
// pick chooses each game's secret; the tests pass their own to know it.
// It runs on session goroutines, concurrently for different browsers.
func guess(pick func() int) func(*continuity.Request) {
	return func(r *continuity.Request) {
		msg := "I am thinking of a number from 1 to 100. Can you guess it?"
		for {
			secret, tries := pick(), 0
			for {
				page.Execute(r, msg)
				r.Next()
				if !r.Has("guess") {
					continue // a reload, say: show the same page again
				}
				in := strings.TrimSpace(r.Param("guess"))
				g, err := strconv.Atoi(in)
				if err != nil || g < 1 || g > 100 {
					msg = fmt.Sprintf("“%s” is not a whole number from 1 to 100. Please try again.", in)
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

// random picks a secret uniformly from 1 to 100.
func random() int { return rand.IntN(100) + 1 }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// page shows the message, which may quote what the player typed: the
// template escapes it.
var page = template.Must(template.New("guess").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Guess the number</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>Guess the number</h1>
<p id="message">{{.}}</p>
<form method="post">
<label>Your guess: <input name="guess" type="number" min="1" max="100" required autofocus></label>
<button type="submit">Guess</button>
</form>
</body>
</html>
`))

func main() { demo.Main(demo.App(guess(random))) }
