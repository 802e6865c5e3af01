// Command hello is the Continuity synopsis: it asks for your name, says
// hello, and starts over.
//
//	go run ./examples/hello [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// The name you type comes back through html/template, which escapes it
// for where it lands in the page.
//
//tour:title Hello
//tour:about The synopsis: ask a name, say hello.
package main

import (
	"html/template"
	"strings"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// hello asks for a name (a form with an input "name"), answers
// "Hello, NAME!", and starts over. r.Next().Param reads the answer to the
// page just sent: the form posts back to the same session.
func hello(r *continuity.Request) {
	for {
		name := ""
		for name == "" { // an empty answer asks again
			page.Execute(r, "")
			name = strings.TrimSpace(r.Next().Param("name"))
		}
		page.Execute(r, name)
		r.Next()
	}
}

// page asks for a name, or, given one, greets it.
var page = template.Must(template.New("hello").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hello</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>Hello</h1>
{{if .}}<p>Hello, {{.}}!</p>
<p><a href="?">Start over</a></p>
{{else}}<form method="post">
<label>What is your name? <input name="name" autofocus></label>
<button type="submit">Say hello</button>
</form>
{{end}}</body>
</html>
`))

func main() { demo.Main(demo.App(hello)) }
