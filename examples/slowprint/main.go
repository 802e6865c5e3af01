// Command slowprint streams a page a line at a time (Perl Continuity's
// slowprint.pl): its Start link (?stream) prints -lines lines, one every
// -every, each flushed as it is written so that the browser shows them
// one by one. When the browser goes away (the user stops loading, closes
// the tab), the stream stops at once; following the link again starts a
// new one.
//
//	go run ./examples/slowprint [-lines 10] [-every 1s] [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
//tour:title Slow print
//tour:about A page streamed a line at a time, stopping as soon as the browser leaves.
package main

import (
	"errors"
	"flag"
	"html/template"
	"strconv"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// slowprint returns the flow: a start page, and a fresh stream for every
// request that asks for one.
func slowprint(lines int, every time.Duration) func(*continuity.Request) {
	return func(r *continuity.Request) {
		for {
			if r.Has("stream") {
				stream(r, lines, every)
			} else {
				slowPage.ExecuteTemplate(r, "start", slowLine{Of: lines, Every: every})
			}
			r.Next()
		}
	}
}

// stream writes the page bit by bit. r.Stream sends the head; after that
// each Flush sends what was written so far. RequestContext is cancelled
// when the browser hangs up: that is the signal to stop, instead of
// sleeping on and writing to nobody.
func stream(r *continuity.Request, lines int, every time.Duration) {
	r.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Stream() != nil {
		return
	}
	gone := r.RequestContext().Done()
	slowPage.ExecuteTemplate(r, "head", lines)
	for i := 1; i <= lines; i++ {
		if i > 1 {
			select {
			case <-gone:
				return // the browser went away: stop at once
			case <-time.After(every):
			}
		}
		slowPage.ExecuteTemplate(r, "line", slowLine{N: i, Of: lines})
		if r.Flush() != nil {
			return // the browser went away while we wrote
		}
	}
	slowPage.ExecuteTemplate(r, "tail", nil)
}

type slowLine struct {
	N, Of int
	Every time.Duration
}

var slowPage = template.Must(template.New("slowprint").Parse(`
{{- define "start"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Slow print</title>
</head>
<body>
<h1>Slow print</h1>
<p>{{.Of}} lines, one every {{.Every}}: <a href="?stream">Start</a></p>
</body>
</html>
{{end}}
{{- define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Slow print</title>
</head>
<body>
<h1>Slow print</h1>
<p>{{.}} lines, one at a time.</p>
<ol>
{{end}}
{{- define "line"}}<li id="line-{{.N}}">line {{.N}} of {{.Of}}</li>
{{end}}
{{- define "tail"}}</ol>
<p id="done">Done. <a href="?stream">Again</a></p>
</body>
</html>
{{end}}`))

func main() {
	lines, every := 10, time.Second
	demo.Main(func(c demo.Config) (demo.Server, error) {
		return demo.App(slowprint(lines, every))(c)
	}, streamFlags(&lines, &every))
}

// streamFlags adds -lines N and -every DURATION to the shared flags.
func streamFlags(lines *int, every *time.Duration) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.Func("lines", "stream `n` lines (default 10)", func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return errors.New("want a whole number of at least 1")
			}
			*lines = n
			return nil
		})
		fs.Func("every", "write a line every `duration` (default 1s)", demo.PositiveDuration(every, true))
	}
}
