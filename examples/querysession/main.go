// Command querysession keeps sessions without cookies (Perl Continuity's
// query_session.pl): in the mode ByQuery the session is named by a signed
// token in the "sid" query or form parameter, which the application puts
// into every link and form (r.SessionToken()). The server never sends a
// Set-Cookie, so a client that refuses cookies still counts
// <span id="count">N</span> up, by a link or by a form.
//
// A token in the URL is seen wherever URLs go: history, bookmarks, shared
// links, server logs. Continuity answers with Referrer-Policy: no-referrer
// so it does not leak to other sites, and it never adopts a token it did
// not sign: a client-chosen sid gets a new session. Prefer cookies (the
// default) where the clients take them.
//
//	go run ./examples/querysession [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Sessions without cookies
//tour:about The session in a signed sid parameter (ByQuery) that every link and form carries.
package main

import (
	"errors"
	"html/template"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// counter is examples/counter's flow; only its links and forms differ,
// since they must carry the session token.
func counter(r *continuity.Request) {
	for n := 1; ; n++ {
		show(r, map[string]any{"Count": n, "Token": r.SessionToken()})
		r.Next()
	}
}

// querySessions carries sessions in the "sid" parameter
// (continuity.DefaultQueryParam) instead of a cookie.
func querySessions(o *continuity.Options) { o.Mode = continuity.ByQuery }

// build makes the server: the options of the shared flags, with query
// sessions.
func build(c demo.Config) (demo.Server, error) {
	opts := c.Options()
	querySessions(opts)
	return continuity.New(counter, opts)
}

// page puts the token into a link and a hidden form field; html/template
// escapes it for each place.
var page = template.Must(template.New("querysession").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sessions without cookies</title>
</head>
<body>
<h1>Sessions without cookies</h1>
<p>You have loaded this page <span id="count">{{.Count}}</span> time(s).</p>
<p><a href="?sid={{.Token}}">Count again</a></p>
<form method="post">
<input type="hidden" name="sid" value="{{.Token}}">
<button type="submit">Count again by a form</button>
</form>
<p><a href="?">A link without the token</a> starts a new session.</p>
</body>
</html>
`))

// show writes the page. Output is buffered until Next, so a write cannot
// fail for a browser that has gone; any other error is a bug in the
// template: continuity logs the panic, answers 500 and ends the session.
func show(r *continuity.Request, data any) {
	if err := page.Execute(r, data); err != nil && !errors.Is(err, continuity.ErrClientGone) {
		panic(err)
	}
}

func main() { demo.Main(build) }
