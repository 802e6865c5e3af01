// Command callbacks binds links and buttons to Go closures (Seaside
// style): "+1" and "-1" change a number that lives in a local variable.
//
//	go run ./examples/callbacks [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// r.Link and r.Button return HTML that names a fresh, unguessable token;
// following it makes r.RunCallbacks call the closure. Each link works
// once per page: links from older pages do nothing.
//
//tour:title Callbacks
//tour:about Links bound to Go closures.
package main

import (
	"html/template"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// callbacks shows a number, <span id="value">N</span>, with links "+1"
// and "-1" and a "Reset" button, each bound to a closure over n.
func callbacks(r *continuity.Request) {
	n := 0
	for {
		page.Execute(r, view{
			Value: n,
			// r.Link and r.Button escape their labels and build the
			// rest themselves: their HTML is safe to put in as it is.
			Plus:  template.HTML(r.Link("+1", func() { n++ })),
			Minus: template.HTML(r.Link("-1", func() { n-- })),
			Reset: template.HTML(r.Button("Reset", func() { n = 0 })),
		})
		r.Next()
		r.RunCallbacks()
	}
}

// view is what the page shows.
type view struct {
	Value              int
	Plus, Minus, Reset template.HTML
}

var page = template.Must(template.New("callbacks").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Callbacks</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>Callbacks</h1>
<p>The number is <span id="value">{{.Value}}</span>.</p>
<p>{{.Plus}} {{.Minus}}</p>
<form method="post">{{.Reset}}</form>
</body>
</html>
`))

func main() { demo.Main(demo.App(callbacks)) }
