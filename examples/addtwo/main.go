// Command addtwo adds two numbers (Perl Continuity's addtwo.pl): a form
// asks for a number, a second form for another, and a page tells their
// sum. The flow is three lines, because each question is a function call
// that returns the answer; input that is not a number asks again.
//
//	go run ./examples/addtwo [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Add two numbers
//tour:about Two forms and a sum: each question is a function call that returns the answer.
package main

import (
	"errors"
	"html/template"
	"math/big"
	"strings"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// addTwo is the whole application: one goroutine per browser runs it.
func addTwo(r *continuity.Request) {
	for {
		a := askNumber(r, "What is the first number?")
		b := askNumber(r, "What is the second number?")
		show(r, "sum", map[string]any{"A": a, "B": b, "Sum": new(big.Int).Add(a, b)})
		r.Next() // "Add two more" comes back here, and the loop starts over
	}
}

// askNumber shows a form with the input "num" until the browser sends a
// whole number, and returns it. Numbers are big.Ints, so that no sum
// overflows; maxDigits keeps them small enough to parse at once.
func askNumber(r *continuity.Request, question string) *big.Int {
	message := ""
	for {
		show(r, "ask", map[string]any{"Question": question, "Message": message, "Max": maxDigits})
		r.Next()
		if !r.Has("num") {
			message = "" // a reload, say: ask the same question again
			continue
		}
		in := strings.TrimSpace(r.Param("num"))
		if len(in) <= maxDigits {
			if n, ok := new(big.Int).SetString(in, 10); ok {
				return n
			}
		}
		message = "“" + in + "” is not a whole number. Please type one, such as 42 or -7."
	}
}

const maxDigits = 50

// pages holds the two pages; html/template escapes what they show (the
// message repeats the browser's input).
var pages = template.Must(template.New("addtwo").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Add two numbers</title>
</head>
<body>
<h1>Add two numbers</h1>
{{end}}

{{define "ask"}}{{template "head"}}
{{with .Message}}<p id="message">{{.}}</p>{{end}}
<form method="post">
<label>{{.Question}} <input name="num" inputmode="numeric" maxlength="{{.Max}}" autocomplete="off" autofocus></label>
<button type="submit">Next</button>
</form>
</body>
</html>
{{end}}

{{define "sum"}}{{template "head"}}
<p>The sum of {{.A}} and {{.B}} is <span id="sum">{{.Sum}}</span>.</p>
<p><a href="?">Add two more</a></p>
</body>
</html>
{{end}}`))

// show writes the named page to the response. Output is buffered until
// Next, so a write cannot fail for a browser that has gone; any other
// error is a bug in a template: continuity logs the panic, answers 500 and
// ends the session.
func show(r *continuity.Request, name string, data any) {
	if err := pages.ExecuteTemplate(r, name, data); err != nil && !errors.Is(err, continuity.ErrClientGone) {
		panic(err)
	}
}

func main() { demo.Main(demo.App(addTwo)) }
