package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/continuity-go/continuity/adapter"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// An example is one examples/NAME program, as tourgen copies it into
// zz_examples.go.
type example struct {
	name  string // the directory's name; the tour mounts it at /NAME/
	title string
	about string // one line of text for the index
	// main is the example's func main, calling demoMain where it calls
	// demo.Main.
	main   func(demoMain mainFunc)
	source string // main.go
}

// mainFunc is the type of demo.Main.
type mainFunc = func(build demo.Build, flags ...func(*flag.FlagSet))

// readingOrder is the order of the index: the examples a newcomer should
// read first. Those not named come after, by name.
var readingOrder = []string{"counter", "hello", "guess", "callbacks", "progress", "chat"}

// A prepared example is one whose main has run: what it gave demo.Main.
type prepared struct {
	example
	build demo.Build
	flags []func(*flag.FlagSet)
}

type preparedList []prepared

// prepare runs each example's main, keeping what it passes to demo.Main,
// and puts the list in reading order. Each call makes the example afresh:
// its flags' variables are its own.
func prepare(list []example) (preparedList, error) {
	var out preparedList
	for _, ex := range list {
		p := prepared{example: ex}
		ex.main(func(build demo.Build, flags ...func(*flag.FlagSet)) { p.build, p.flags = build, flags })
		if p.build == nil {
			return nil, fmt.Errorf("examples/%s: main gave demo.Main no build", ex.name)
		}
		out = append(out, p)
	}
	rank := func(name string) int {
		if i := slices.Index(readingOrder, name); i >= 0 {
			return i
		}
		return len(readingOrder)
	}
	slices.SortStableFunc(out, func(a, b prepared) int {
		return cmp.Or(cmp.Compare(rank(a.name), rank(b.name)), cmp.Compare(a.name, b.name))
	})
	return out, nil
}

// flags adds every example's own flags to fs, each under its example's
// name: -chat.wait, -progress.steps.
func (l preparedList) flags(fs *flag.FlagSet) {
	for _, p := range l {
		own := flag.NewFlagSet(p.name, flag.ContinueOnError)
		for _, f := range p.flags {
			f(own)
		}
		own.VisitAll(func(f *flag.Flag) {
			fs.Var(f.Value, p.name+"."+f.Name, f.Usage+" (examples/"+p.name+")")
		})
	}
}

// A tour serves several examples under their paths, an index at /, and
// their sources under /_source/.
type tour struct {
	mux     *http.ServeMux
	servers map[string]demo.Server // by example
}

// newTour builds each example as its main does, with the options of the
// flags and Config.Mount set to its path (so its session cookie,
// "cid-NAME", is scoped there), and mounts it at /NAME/.
func newTour(c demo.Config, list preparedList) (*tour, error) {
	t := &tour{mux: http.NewServeMux(), servers: make(map[string]demo.Server)}
	var index []indexEntry
	for _, p := range list {
		path := "/" + p.name + "/"
		if !validName(p.name) {
			t.close()
			return nil, fmt.Errorf("tour: example %q: want a name of letters, digits, '-' and '_', for a path /NAME/", p.name)
		}
		cc := c
		cc.Mount = path
		srv, err := p.build(cc)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("tour: example %s: %w", p.name, err)
		}
		t.servers[p.name] = srv
		t.mux.Handle(path, withSourceBar(p.name, adapter.Mount(path, srv)))
		src := p.source
		t.mux.HandleFunc("GET /_source/"+p.name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			sourcePage.Execute(w, sourceView{Name: p.name, Title: p.title, Source: src})
		})
		index = append(index, indexEntry{Name: p.name, Title: p.title, About: p.about})
	}
	t.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		indexPage.Execute(w, index)
	})
	return t, nil
}

// validName reports whether name may be an example's path and pattern.
func validName(name string) bool {
	if name == "" || name[0] == '_' || name[0] == '-' {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ServeHTTP serves the index, the sources and every example.
func (t *tour) ServeHTTP(w http.ResponseWriter, r *http.Request) { t.mux.ServeHTTP(w, r) }

// AdminPages returns the admin page of each example whose server has one
// ([continuity.Server.AdminPage]), by name: -admin serves each at /NAME/.
func (t *tour) AdminPages() map[string]http.Handler {
	pages := make(map[string]http.Handler)
	for name, srv := range t.servers {
		if p, ok := srv.(demo.AdminPager); ok {
			pages[name] = p.AdminPage()
		}
	}
	return pages
}

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

type indexEntry struct{ Name, Title, About string }

type sourceView struct{ Name, Title, Source string }

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
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
{{range .}}<li><a href="{{.Name}}/">{{.Title}}</a>: {{.About}} (<a href="_source/{{.Name}}">source</a>)</li>
{{end}}</ul>
</body>
</html>
`))

var sourcePage = template.Must(template.New("source").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>examples/{{.Name}}/main.go</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style>
</head>
<body>
<h1>examples/{{.Name}}/main.go</h1>
<p><a href="../{{.Name}}/">Run {{.Title}}</a> · <a href="../">Tour index</a> · <code>go run ./examples/{{.Name}}</code></p>
<pre><code>{{.Source}}</code></pre>
</body>
</html>
`))

// withSourceBar serves h, and puts a line of links (to the tour's index,
// and to the example's source) at the top of every HTML page h answers
// with 200: right after the <body> tag, or at the end of a page without
// one. The links are relative, so that they hold whatever the path.
func withSourceBar(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := strings.Repeat("../", max(strings.Count(r.URL.EscapedPath(), "/")-1, 0))
		index := cmp.Or(up, "./")
		bar := fmt.Sprintf(`<p class="tour-bar"><a href="%s">Continuity tour</a> · <a href="%s_source/%s">Go source of this example</a></p>`+"\n",
			index, up, name) // name is validName's: nothing to escape
		bw := &barWriter{ResponseWriter: w, bar: bar}
		h.ServeHTTP(bw, r)
		bw.finish()
	})
}

// A barWriter inserts bar into an HTML response after its <body> tag.
// Flushes and the rest of http.ResponseController reach the writer
// beneath through Unwrap.
type barWriter struct {
	http.ResponseWriter
	bar     string
	decided bool // whether the response is an HTML page to put the bar in
	insert  bool
	done    bool
	tag     int  // bytes of "<body" matched so far
	inTag   bool // after "<body", before its ">"
	quote   byte // in the tag, the quote of the attribute value being read
}

func (w *barWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *barWriter) WriteHeader(code int) {
	w.decide(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *barWriter) decide(code int) {
	if w.decided {
		return
	}
	w.decided = true
	h := w.Header()
	w.insert = code == http.StatusOK && strings.HasPrefix(h.Get("Content-Type"), "text/html") && h.Get("Content-Encoding") == ""
	if w.insert {
		h.Del("Content-Length")
	}
}

func (w *barWriter) Write(p []byte) (int, error) {
	if !w.decided {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", http.DetectContentType(p)) // as net/http would
		}
		w.decide(http.StatusOK)
	}
	if !w.insert || w.done {
		return w.ResponseWriter.Write(p)
	}
	i := w.scan(p)
	if i < 0 {
		return w.ResponseWriter.Write(p)
	}
	n, err := w.ResponseWriter.Write(p[:i])
	if err != nil {
		return n, err
	}
	w.done = true
	if _, err := io.WriteString(w.ResponseWriter, w.bar); err != nil {
		return n, err
	}
	m, err := w.ResponseWriter.Write(p[i:])
	return n + m, err
}

// scan follows p through the page and returns the index just after the
// end of the <body> tag, or -1 if that is not in p.
func (w *barWriter) scan(p []byte) int {
	const open = "<body"
	for i, c := range p {
		switch {
		case w.inTag:
			switch {
			case w.quote != 0:
				if c == w.quote {
					w.quote = 0
				}
			case c == '"' || c == '\'':
				w.quote = c
			case c == '>':
				return i + 1
			}
		case w.tag == len(open):
			w.tag = 0
			if c == '>' {
				return i + 1
			}
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '/' {
				w.inTag = true
			}
		case c|0x20 == open[w.tag] || c == open[w.tag]:
			w.tag++
		case c == '<':
			w.tag = 1
		default:
			w.tag = 0
		}
	}
	return -1
}

// finish puts the bar at the end of an HTML page that had no <body> tag.
func (w *barWriter) finish() {
	if w.insert && !w.done {
		w.done = true
		io.WriteString(w.ResponseWriter, w.bar)
	}
}
