// Command cookies sets a cookie of its own, reads it back on the next
// request, shows the value it read, and updates it (Perl Continuity's
// cookies.pl). The cookie "visits" counts the browser's requests in the
// browser, next to the session's own count, a local variable; a link
// deletes the cookie.
//
// Continuity's session cookie ("cid") is the server's: the application
// never sees its value. Cookies like this one are the application's to
// set, read and delete with r.SetCookie and r.Cookie; a browser can send
// them with any value, so read them as untrusted input.
//
//	go run ./examples/cookies [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Cookies
//tour:about An application cookie set, read back and updated, beside the session's own.
package main

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

const cookieName = "visits"

func cookies(r *continuity.Request) {
	forget := false
	for requests := 1; ; requests++ {
		sent, _ := r.Cookie(cookieName) // nil if the browser sent none
		data := map[string]any{"Requests": requests, "Sent": sent}
		if forget {
			// The same name and path, expired: the browser drops it.
			r.SetCookie(&http.Cookie{Name: cookieName, Path: "/", MaxAge: -1})
			data["Deleted"] = true
		} else {
			next := count(sent) + 1
			r.SetCookie(&http.Cookie{
				Name:     cookieName,
				Value:    strconv.FormatUint(next, 10),
				Path:     "/",
				MaxAge:   365 * 24 * 60 * 60, // kept across browser restarts
				HttpOnly: true,               // no script needs to read it
				SameSite: http.SameSiteLaxMode,
			})
			data["Set"] = next
		}
		data["Delete"] = template.HTML(r.Link("Delete the cookie", func() { forget = true }))
		show(r, data)
		r.Next()
		forget = false
		r.RunCallbacks()
	}
}

// count is the number in the cookie c, or 0 for no cookie or one that
// does not hold a count.
func count(c *http.Cookie) uint64 {
	if c == nil {
		return 0
	}
	n, err := strconv.ParseUint(c.Value, 10, 32)
	if err != nil {
		return 0
	}
	return n
}

var page = template.Must(template.New("cookies").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cookies</title>
</head>
<body>
<h1>Cookies</h1>
{{with .Sent}}<p>Your browser sent the cookie <code>visits=<span id="sent">{{.Value}}</span></code>.</p>
{{else}}<p id="none">Your browser sent no cookie <code>visits</code>.</p>
{{end}}
{{- if .Deleted}}<p id="deleted">It is deleted now.</p>
{{else}}<p>It is set to <span id="set">{{.Set}}</span> now.</p>
{{end -}}
<p>This session has seen <span id="requests">{{.Requests}}</span> request(s).</p>
<p><a href="?">Load again</a> · {{.Delete}}</p>
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

func main() { demo.Main(demo.App(cookies)) }
