// Command components puts three independent counters on one page (what
// Perl Continuity's supercounter.pl meant to be). Each counter is a small
// component: its own state, and its own links bound to closures over that
// state (r.CallbackURL). The parent flow owns the components, puts their
// views on its page, and after each request runs whichever callback the
// browser followed (r.RunCallbacks): the component that made the link
// changes, the others do not. A component knows nothing of the page
// around it, so a page may hold any number.
//
//	go run ./examples/components [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Components
//tour:about Three independent counters on one page, each with its own callback links.
package main

import (
	"html/template"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// counter is a component: a number with ++ and -- links.
type counter struct {
	id, n int
}

// counterView is what a counter's template shows: its number and the
// URLs of its links.
type counterView struct {
	ID, N    int
	Inc, Dec string
}

// view binds fresh links to closures over c. A link works for one page:
// RunCallbacks forgets every binding, so a stale page's link does nothing.
func (c *counter) view(r *continuity.Request) counterView {
	return counterView{
		ID:  c.id,
		N:   c.n,
		Inc: r.CallbackURL(func() { c.n++ }),
		Dec: r.CallbackURL(func() { c.n-- }),
	}
}

// components is the parent flow: it composes three counters and a link
// of its own that resets them all.
func components(r *continuity.Request) {
	counters := []*counter{{id: 1}, {id: 2}, {id: 3}}
	for {
		views := make([]counterView, len(counters))
		for i, c := range counters {
			views[i] = c.view(r)
		}
		reset := r.CallbackURL(func() {
			for _, c := range counters {
				c.n = 0
			}
		})
		componentsPage.Execute(r, pageView{Counters: views, Reset: reset})
		r.Next()
		r.RunCallbacks()
	}
}

type pageView struct {
	Counters []counterView
	Reset    string
}

// The "counter" template is the component's; the page uses it once per
// counter.
var componentsPage = template.Must(template.New("page").Parse(`
{{- define "counter"}}<div class="counter" id="counter-{{.ID}}">
Counter {{.ID}}: <span id="count-{{.ID}}">{{.N}}</span>
<a href="{{.Inc}}">++</a> <a href="{{.Dec}}">--</a>
</div>
{{end -}}
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Components</title></head>
<body>
<h1>Three counters</h1>
{{range .Counters}}{{template "counter" .}}{{end -}}
<p><a href="{{.Reset}}">Reset all</a></p>
</body>
</html>
`))

func main() { demo.Main(demo.App(components)) }
