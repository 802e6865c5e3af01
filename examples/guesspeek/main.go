// Command guesspeek is the number guessing game with an operator's view
// (Perl Continuity's guess-peek.pl and its Inspector): each game exposes
// its secret number with Session.Expose, and /peek lists every live game's
// secret, read from the server's session listing (Server.Inspect) while
// the games wait for their players. The /peek page reads only what the
// games exposed, as JSON snapshots: never a game's variables, and never
// by waking its goroutine.
//
// /peek is here for the demonstration; on a real server an operator view
// like it goes behind authentication, since exposed values (a secret
// number!) are for operators, not players.
//
//	go run ./examples/guesspeek [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Guess, and peek
//tour:about The guessing game, and an operator's page that reads the secret each game exposes.
package main

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// game is what a session exposes to /peek.
type game struct {
	Secret  int `json:"secret"`
	Guesses int `json:"guesses"`
}

// guess returns the game: guess a number from 1 to 100 (the parameter
// "guess"); each answer says "too low", "too high" or "correct", and a
// correct guess starts a new game. pick chooses each secret; nil means at
// random.
func guess(pick func() int) func(*continuity.Request) {
	if pick == nil {
		pick = func() int { return rand.IntN(100) + 1 }
	}
	return func(r *continuity.Request) {
		msg := "I am thinking of a number from 1 to 100. Can you guess it?"
		for {
			g := game{Secret: pick()}
			for {
				// Expose after every change: /peek shows the last snapshot.
				r.Session().Expose("game", g)
				guessPage.Execute(r, guessView{Game: r.Session().LogID(), Message: msg})
				r.Next()
				if !r.Has("guess") {
					continue // a reload: show the same page again
				}
				in := strings.TrimSpace(r.Param("guess"))
				n, err := strconv.Atoi(in)
				if err != nil || n < 1 || n > 100 {
					msg = fmt.Sprintf("“%s” is not a whole number from 1 to 100. Please try again.", in)
					continue
				}
				g.Guesses++
				if n == g.Secret {
					break
				}
				hint := "too low"
				if n > g.Secret {
					hint = "too high"
				}
				msg = fmt.Sprintf("%d is %s. Guess again.", n, hint)
			}
			msg = fmt.Sprintf("%d is correct! You took %d guess(es). New game: I am thinking of another number.", g.Secret, g.Guesses)
		}
	}
}

type guessView struct{ Game, Message string }

// The message may hold what the user typed: html/template escapes it.
var guessPage = template.Must(template.New("guess").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Guess the number</title></head>
<body>
<h1>Guess the number</h1>
<p>Game <span id="game">{{.Game}}</span></p>
<p id="message">{{.Message}}</p>
<form method="post">
<label>Your guess: <input name="guess" type="number" min="1" max="100" required autofocus></label>
<button type="submit">Guess</button>
</form>
<p><a href="peek">Peek at every game's number</a> (the operator's view)</p>
</body>
</html>
`))

// peek lists the live games from the server's session listing. It runs
// on the HTTP handler's goroutine, not in any session: Inspect hands it
// copies of what the sessions exposed.
func peek(srv *continuity.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type row struct {
			ID   string
			Game game
		}
		var rows []row
		for _, s := range srv.Inspect() {
			raw, ok := s.Exposed["game"]
			if !ok {
				continue
			}
			rw := row{ID: s.ID}
			if json.Unmarshal(raw, &rw.Game) == nil {
				rows = append(rows, rw)
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		peekPage.Execute(w, rows)
	})
}

var peekPage = template.Must(template.New("peek").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Peek</title></head>
<body>
<h1>Live games</h1>
<table>
<tr><th>game</th><th>secret</th><th>guesses</th></tr>
{{range .}}<tr id="game-{{.ID}}"><td>{{.ID}}</td><td class="secret">{{.Game.Secret}}</td><td>{{.Game.Guesses}}</td></tr>
{{else}}<tr><td colspan="3">No games.</td></tr>
{{end}}</table>
<p><a href="./">Play</a></p>
</body>
</html>
`))

// withPeek serves /peek beside the game; Shutdown is the game server's.
type withPeek struct {
	*continuity.Server
	mux *http.ServeMux
}

func (p withPeek) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

func newWithPeek(srv *continuity.Server) withPeek {
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	mux.Handle("GET /peek", peek(srv))
	return withPeek{srv, mux}
}

// build makes the server: the game, with /peek beside it. pick chooses
// each secret; nil means at random.
func build(pick func() int) demo.Build {
	return func(c demo.Config) (demo.Server, error) {
		srv, err := continuity.New(guess(pick), c.Options())
		if err != nil {
			return nil, err
		}
		return newWithPeek(srv), nil
	}
}

func main() { demo.Main(build(nil)) }
