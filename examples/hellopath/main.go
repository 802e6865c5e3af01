// Command hellopath greets the name in the URL (Perl Continuity's
// hello.pl): GET /NAME answers "Hello, NAME!", the next request of the
// same browser on that path answers "Hello to you too, NAME!", and then
// the flow starts over.
//
// It shows path sessions: with the mode ByCookie|ByPath (Perl's
// path_session), a session is one browser on one path, so a browser that
// opens /Alice and /Bob holds two sessions, each at its own step, and
// another browser never shares one.
//
//	go run ./examples/hellopath [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Hello, path
//tour:about Path sessions (ByCookie|ByPath): each path in the URL is a session of its own.
package main

import (
	"errors"
	"html/template"
	"path"
	"strings"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// hello runs once per browser and path; its path never changes.
func hello(r *continuity.Request) {
	name := strings.TrimPrefix(path.Clean("/"+r.Path()), "/")
	if name == "" {
		name = "World"
	}
	for {
		show(r, "Hello, "+name+"!")
		r.Next()
		show(r, "Hello to you too, "+name+"!")
		r.Next()
	}
}

// pathSessions gives each browser a session per path.
func pathSessions(o *continuity.Options) { o.Mode = continuity.ByCookie | continuity.ByPath }

// build makes the server: the options of the shared flags, with path
// sessions.
func build(c demo.Config) (demo.Server, error) {
	opts := c.Options()
	pathSessions(opts)
	return continuity.New(hello, opts)
}

// page shows the greeting, escaped by html/template: the name comes from
// the URL, which anybody can write. Its links are relative: "" is this
// path (the next step), "Alice" a sibling path (another session).
var page = template.Must(template.New("hellopath").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hello</title>
</head>
<body>
<h1 id="greeting">{{.}}</h1>
<p><a href="">Again</a> · or another name, each a session of its own:
<a href="Alice">Alice</a>, <a href="Bob">Bob</a></p>
</body>
</html>
`))

// show writes the page with greeting. Output is buffered until Next, so a
// write cannot fail for a browser that has gone; any other error is a bug
// in the template: continuity logs the panic, answers 500 and ends the
// session.
func show(r *continuity.Request, greeting string) {
	if err := page.Execute(r, greeting); err != nil && !errors.Is(err, continuity.ErrClientGone) {
		panic(err)
	}
}

func main() { demo.Main(build) }
