// Command prompt is Perl Continuity's counter.pl, the Seaside counter: a
// number with the links "++" and "--". Going below zero first asks "Do you
// really want to GO NEGATIVE?", through prompt: a reusable dialog that
// shows a question with its options as links and returns the one chosen.
// A dialog is one function call, because the session simply waits in it.
//
//	go run ./examples/prompt [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Prompt
//tour:about The Seaside counter: a reusable dialog is one function call; going negative asks first.
package main

import (
	"errors"
	"html/template"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// counter shows the count with a "++" and a "--" link, each bound to a Go
// closure; RunCallbacks runs the one the browser followed. A callback runs
// on the session goroutine, in the middle of the flow, so it may show
// pages of its own: "--" at 0 asks the question and waits for the answer
// right there.
func counter(r *continuity.Request) {
	count := 0
	for {
		show(r, "counter", map[string]any{
			"Count":  count,
			"Answer": count == 42,
			"Plus":   link(r, "++", func() { count++ }),
			"Minus": link(r, "--", func() {
				if count != 0 || prompt(r, "Do you really want to GO NEGATIVE?", "Yes", "No") == "Yes" {
					count--
				}
			}),
		})
		r.Next()
		r.RunCallbacks() // a reload, or a link from an older page, runs nothing
	}
}

// prompt asks question, with each option as a link, until the browser
// follows one of them, and returns that option. Anything else (a reload, a
// stale link) asks again.
func prompt(r *continuity.Request, question string, options ...string) string {
	for {
		chosen := ""
		links := make([]template.HTML, len(options))
		for i, option := range options {
			links[i] = link(r, option, func() { chosen = option })
		}
		show(r, "prompt", map[string]any{"Question": question, "Options": links})
		r.Next()
		if r.RunCallbacks() {
			return chosen
		}
	}
}

// link is r.Link for a template: continuity has escaped the text already.
func link(r *continuity.Request, text string, fn func()) template.HTML {
	return template.HTML(r.Link(text, fn))
}

var pages = template.Must(template.New("prompt").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Counter</title>
</head>
<body>
<h1>Counter</h1>
{{end}}

{{define "counter"}}{{template "head"}}
<p>Count: <span id="count">{{.Count}}</span></p>
{{if .Answer}}<p id="answer"><strong>The Answer to Life, The Universe, and Everything</strong></p>{{end}}
<p>{{.Plus}} {{.Minus}}</p>
</body>
</html>
{{end}}

{{define "prompt"}}{{template "head"}}
<p id="question">{{.Question}}</p>
<p>{{range .Options}}{{.}} {{end}}</p>
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

func main() { demo.Main(demo.App(counter)) }
