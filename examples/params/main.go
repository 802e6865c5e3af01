// Command params shows every parameter of each request (Perl Continuity's
// params.pl): the query parameters and the form fields apart, each name
// with all of its values in the order they were sent, empty values too,
// escaped by html/template. The page has a form and a link to try it.
//
// Query parameters reach the application only from the site's own pages:
// a link or redirect from another site arrives without its query (see
// Options.InsecureAllowCrossSiteInput).
//
//	go run ./examples/params [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Parameters
//tour:about Every query parameter and form field, with all of its values in order.
package main

import (
	"errors"
	"html/template"
	"maps"
	"net/url"
	"slices"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// params shows each request as it comes.
func params(r *continuity.Request) {
	for {
		show(r, map[string]any{
			"Method": r.Method(),
			"Query":  sorted(r.URL().Query()),
			// PostForm holds the fields of a POST body, url-encoded or
			// multipart; r.Param and r.Params read both it and the query.
			"Form": sorted(r.HTTP().PostForm),
		})
		r.Next()
	}
}

// A param is one name with all of its values.
type param struct {
	Name   string
	Values []string
}

// sorted lists v by name. url.Values keeps each name's values in the
// order they were sent, but not the order of the names.
func sorted(v url.Values) []param {
	var out []param
	for _, name := range slices.Sorted(maps.Keys(v)) {
		out = append(out, param{name, v[name]})
	}
	return out
}

// page shows the parameters in two tables, a row per name and a cell per
// value; an empty cell says "(empty)" through CSS. The form's action and
// the link carry a query of their own, so both tables fill.
var page = template.Must(template.New("params").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parameters</title>
<style>
td, th { border: 1px solid #ccc; padding: .2em .5em; text-align: left; white-space: pre-wrap }
td:empty::after { content: "(empty)"; color: #888 }
</style>
</head>
<body>
<h1>Parameters of this {{.Method}} request</h1>
{{define "table"}}{{with .}}<table>
{{range .}}<tr><th>{{.Name}}</th>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{else}}<p>none</p>{{end}}{{end}}
<h2>Query</h2>
<div id="query">{{template "table" .Query}}</div>
<h2>Form</h2>
<div id="form">{{template "table" .Form}}</div>

<h2>Try it</h2>
<form method="post" action="?from=form&amp;from=action">
<p><label>Text <input name="text" value="hello"></label>
<label>Left empty <input name="blank"></label></p>
<p>Colours:
<label><input type="checkbox" name="colour" value="red" checked> red</label>
<label><input type="checkbox" name="colour" value="green"> green</label>
<label><input type="checkbox" name="colour" value="blue" checked> blue</label></p>
<p><label>Note <textarea name="note"><b>markup</b> stays text</textarea></label></p>
<button type="submit">Send</button>
</form>
<p>Or follow <a href="?a=1&amp;a=2&amp;b=&amp;a=3&amp;%3Cb%3E=%3Ci%3E">a link with a query</a>.</p>
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

func main() { demo.Main(demo.App(params)) }
