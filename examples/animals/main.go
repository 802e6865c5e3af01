// Command animals is Merlyn's animal game (Perl Continuity's animals.pl):
// think of an animal and it guesses by yes/no questions. When it guesses
// wrong it asks what the animal was and for a question that tells the two
// apart, and learns. What it learns is shared: every player, in every
// session, plays against the same knowledge.
//
// Sessions run in parallel on all cores (Perl's coroutines never ran two
// at once), so the shared tree is guarded by a mutex. The lock is held
// only to read or change a node, for microseconds, and never across
// r.Next, which waits for a person. Since a session lets go of the tree
// while its player thinks, another player may change it meanwhile: learn
// checks, under the lock, that the leaf it is about to replace is still a
// leaf.
//
//	go run ./examples/animals [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Animals
//tour:about Merlyn's game learns new animals in a tree that every session shares.
package main

import (
	"errors"
	"html/template"
	"strings"
	"sync"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// A node is a yes/no question with two children, or a leaf: an animal.
type node struct {
	text    string // the question, or the animal ("a dog")
	yes, no *node  // nil at a leaf
}

// knowledge is the tree every session shares. Nodes are never removed:
// a leaf only ever becomes a question, so a *node a session holds stays
// valid, but its fields are read and written under mu.
type knowledge struct {
	mu      sync.Mutex
	root    *node // set once by newKnowledge
	animals int
}

// Bounds on what players can make the server keep.
const (
	maxAnimals     = 10000
	maxAnimalLen   = 60
	maxQuestionLen = 200
)

var (
	errMoved = errors.New("another player taught me about this animal meanwhile")
	errFull  = errors.New("I know as many animals as I can")
)

func newKnowledge() *knowledge {
	return &knowledge{animals: 2, root: &node{
		text: "Does it live in water?",
		yes:  &node{text: "a fish"},
		no:   &node{text: "a dog"},
	}}
}

// look returns what n says now: a question, or at a leaf an animal.
func (k *knowledge) look(n *node) (text string, leaf bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return n.text, n.yes == nil
}

// child returns the question n's child for the answer.
func (k *knowledge) child(n *node, yes bool) *node {
	k.mu.Lock()
	defer k.mu.Unlock()
	if yes {
		return n.yes
	}
	return n.no
}

// learn turns the leaf n, which guessed wrong, into question: animal on
// the side of answer, the old guess on the other. If n is no longer a
// leaf, another session has taught it meanwhile, and it is left alone.
func (k *knowledge) learn(n *node, animal, question string, answer bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case n.yes != nil:
		return errMoved
	case k.animals >= maxAnimals:
		return errFull
	}
	added, old := &node{text: animal}, &node{text: n.text}
	n.text = question
	n.yes, n.no = added, old
	if !answer {
		n.yes, n.no = old, added
	}
	k.animals++
	return nil
}

// play is the flow of one session: a game after another.
func (k *knowledge) play(r *continuity.Request) {
	note := ""
	for {
		show(r, view{Note: note}) // the start page
		r.Next()
		note = k.game(r)
	}
}

// game walks the tree from the root with the player's answers, and
// returns what to say at the end.
func (k *knowledge) game(r *continuity.Request) string {
	n, note := k.root, ""
	for {
		text, leaf := k.look(n)
		if !leaf {
			n, note = k.child(n, ask(r, note, text)), ""
			continue
		}
		if ask(r, note, "Is it "+text+"?") {
			return "I guessed it: " + text + "!"
		}
		if said, ok := k.teach(r, n, text); ok {
			return said
		}
		// n has become a question: ask it.
		note = "While you typed, " + errMoved.Error() + ". Let me ask again."
	}
}

// teach asks for the animal and a question that tells it from guessed,
// until the answers make sense, and learns them; it returns what to say.
// It reports false if another session taught n meanwhile.
func (k *knowledge) teach(r *continuity.Request, n *node, guessed string) (said string, ok bool) {
	note := "I give up."
	for {
		show(r, view{Note: note, Guessed: guessed})
		r.Next()
		animal := strings.TrimSpace(r.Param("animal"))
		question := strings.TrimSpace(r.Param("question"))
		answer := r.Param("answer")
		switch {
		case animal == "" || len(animal) > maxAnimalLen:
			note = "Please name the animal (at most 60 bytes)."
		case strings.EqualFold(animal, guessed):
			note = "That is what I guessed! Which animal was it?"
		case question == "" || len(question) > maxQuestionLen:
			note = "Please type a question (at most 200 bytes)."
		case answer != "yes" && answer != "no":
			note = "Please say whether the answer is yes or no for your animal."
		default:
			switch err := k.learn(n, animal, question, answer == "yes"); {
			case errors.Is(err, errMoved):
				return "", false
			case err != nil:
				return "Sorry: " + err.Error() + ".", true
			}
			return "Thank you! Now I know " + animal + ".", true
		}
	}
}

// ask shows a yes/no question until the player answers it.
func ask(r *continuity.Request, note, question string) bool {
	for {
		show(r, view{Note: note, Question: question})
		switch r.Next().Param("answer") {
		case "yes":
			return true
		case "no":
			return false
		}
	}
}

// view is what a page shows: a question, the teaching form (Guessed
// set), or else the start page.
type view struct{ Note, Question, Guessed string }

func show(r *continuity.Request, v view) { animalsPage.Execute(r, v) }

// Everything the players typed is escaped by html/template.
var animalsPage = template.Must(template.New("animals").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Animals</title></head>
<body>
<h1>Animals</h1>
{{with .Note}}<p id="note">{{.}}</p>
{{end}}<form method="post">
{{- if .Question}}
<p id="question">{{.Question}}</p>
<button name="answer" value="yes">Yes</button> <button name="answer" value="no">No</button>
{{- else if .Guessed}}
<p><label>What animal were you thinking of? <input name="animal" maxlength="60" placeholder="a cat" required autofocus></label></p>
<p><label>Type a question that tells it from {{.Guessed}}: <input name="question" maxlength="200" required></label></p>
<p>For your animal, the answer is
<label><input type="radio" name="answer" value="yes" required> yes</label>
<label><input type="radio" name="answer" value="no"> no</label></p>
<button>Teach me</button>
{{- else}}
<p>Think of an animal, and I will try to guess it.</p>
<button name="start" value="1">Start</button>
{{- end}}
</form>
</body>
</html>
`))

func main() { demo.Main(demo.App(newKnowledge().play)) }
