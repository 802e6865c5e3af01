// Command counter counts a browser's requests with a local variable in a
// loop: each page shows the next number. A new browser starts at 1.
//
//	go run ./examples/counter [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// The count lives in the session goroutine's local variable n, and
// nowhere else: no session store, no hidden field, no cookie but the one
// that finds the goroutine again.
//
//tour:title Counter
//tour:about A local variable in a loop counts your requests.
package main

import (
	"html/template"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// counter is the application. Each browser gets a goroutine of its own
// running it; r.Next sends the page and waits for the same browser's next
// request.
func counter(r *continuity.Request) {
	for n := 1; ; n++ {
		page.Execute(r, n)
		r.Next()
	}
}

// page shows the count as <span id="count">N</span>. Its link is relative
// ("?"), so the example works mounted under a prefix too, as in the tour.
var page = template.Must(template.New("counter").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Counter</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>Counter</h1>
<p>You have loaded this page <span id="count">{{.}}</span> time(s).</p>
<p><a href="?">Count again</a></p>
</body>
</html>
`))

func main() { demo.Main(demo.App(counter)) }
