package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// An example is one application of the tour, mounted at its own path.
type example struct {
	path  string // the mount point, with both slashes: "/counter/"
	title string
	about string // one line of text for the index page
	app   func(*continuity.Request)
	// options, if set, adjusts the example's options (the flags' options
	// with the cookie scoped to the example, see newTour) before its server
	// is created.
	options func(*continuity.Options)
}

// examples is the tour. Adding an example is one line here.
var examples = []example{
	{path: "/counter/", title: "Counter", about: "A local variable in a loop counts your requests.", app: apps.Counter},
	{path: "/hello/", title: "Hello", about: "The synopsis: ask a name, say hello.", app: apps.Hello},
	{path: "/guess/", title: "Guess the number", about: "A game from 1 to 100, written as two plain loops.", app: apps.Guess(nil)},
	{path: "/callbacks/", title: "Callbacks", about: "Links bound to Go closures.", app: apps.Callbacks},
	{path: "/progress/", title: "Progress", about: "A live progress bar for slow work in the session, over Server-Sent Events or long-polling.", app: apps.Progress(apps.DefaultProgressSteps, apps.DefaultProgressStep)},
	{path: "/chat/", title: "Chat", about: "AJAX push chat: a session per browser waits in a long poll while another takes its posts.", app: apps.NewChat(0).App, options: apps.ChatOptions},
}

// A tour serves several examples under their paths, plus an index at /.
type tour struct {
	mux     *http.ServeMux
	index   string
	servers []*continuity.Server
}

// newTour creates a continuity server for each example, with the options
// of the flags and a session cookie of its own ("cid-NAME", Path=/NAME/),
// and mounts it at its path.
func newTour(c demo.Config, list []example) (*tour, error) {
	t := &tour{mux: http.NewServeMux()}
	var links strings.Builder
	for _, ex := range list {
		if !strings.HasPrefix(ex.path, "/") || !strings.HasSuffix(ex.path, "/") || ex.path == "/" {
			t.close()
			return nil, fmt.Errorf("tour: example %q: path must be /NAME/", ex.path)
		}
		opts := c.Options()
		// The cookie is scoped to the example's path, and named for it too,
		// so that it never meets another server's "cid" (a standalone
		// example run earlier on the same address, say) in one request.
		opts.CookiePath = ex.path
		opts.CookieName = "cid-" + strings.ReplaceAll(strings.Trim(ex.path, "/"), "/", "-")
		if ex.options != nil {
			ex.options(opts)
		}
		srv, err := continuity.New(ex.app, opts)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("tour: example %s: %w", ex.path, err)
		}
		t.servers = append(t.servers, srv)
		t.mux.Handle(ex.path, adapter.Mount(ex.path, srv))
		fmt.Fprintf(&links, "<li><a href=\"%s\">%s</a>: %s</li>\n",
			html.EscapeString(ex.path[1:]), html.EscapeString(ex.title), html.EscapeString(ex.about))
	}
	t.index = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Continuity tour</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>Continuity tour</h1>
<p>Each example is a plain Go function whose session is a goroutine.</p>
<ul>
` + links.String() + `</ul>
</body>
</html>
`
	t.mux.HandleFunc("GET /{$}", t.serveIndex)
	return t, nil
}

func (t *tour) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(t.index))
}

// ServeHTTP serves the index and every example.
func (t *tour) ServeHTTP(w http.ResponseWriter, r *http.Request) { t.mux.ServeHTTP(w, r) }

// Shutdown shuts down every example's server; see
// [continuity.Server.Shutdown].
func (t *tour) Shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range t.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// close stops the servers created so far; they have no sessions yet.
func (t *tour) close() {
	for _, srv := range t.servers {
		srv.Shutdown(context.Background())
	}
}
