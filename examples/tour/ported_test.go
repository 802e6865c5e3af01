package main

import (
	"flag"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/examples/internal/webtest"
)

// firstPages are the examples ported from Perl Continuity's eg/, each
// with what its first page shows by the README's table.
var firstPages = map[string]string{
	"addtwo":       `<input name="num"`,
	"prompt":       `<span id="count">0</span>`,
	"hellopath":    `<h1 id="greeting">Hello, World!</h1>`,
	"params":       `<div id="query">`,
	"cookies":      `<span id="set">1</span>`,
	"querysession": `<span id="count">1</span>`,
	"slowprint":    `<a href="?stream">Start</a>`,
	"guesspeek":    `<p id="message">`,
	"animals":      `<button name="start"`,
	"components":   `<span id="count-3">0</span>`,
	"repl":         `fetch("poll"`,
}

// TestPortedExamplesInTheTour: each example ported from Perl serves its
// first page under /NAME/, with its marker and the tour's bar.
func TestPortedExamplesInTheTour(t *testing.T) {
	_, ts := serveTour(t)
	for name, marker := range firstPages {
		t.Run(name, func(t *testing.T) {
			page := webtest.NewBrowser(t, ts).Get(ts.URL + "/" + name + "/") // 200, HTML
			assert.Contains(t, page, marker)
			assert.Contains(t, page, `<a href="../_source/`+name+`">Go source of this example</a>`)
		})
	}
}

// TestPortedExamplesKeepTheirSetUp: what each example's build sets up
// beside its flow is in the tour too: path sessions (hellopath), query
// sessions (querysession), the /peek page (guesspeek), its own flags
// (slowprint).
func TestPortedExamplesKeepTheirSetUp(t *testing.T) {
	list := examples(t)
	fs := flag.NewFlagSet("tour", flag.ContinueOnError)
	list.flags(fs)
	require.NoError(t, fs.Parse([]string{"-slowprint.lines", "3", "-slowprint.every", "0"}))
	tr, err := newTour(testConfig, list)
	require.NoError(t, err)
	ts := webtest.Serve(t, tr, tr)
	greeting := func(page string) string { return webtest.Find(t, page, `<h1 id="greeting">([^<]*)</h1>`) }

	t.Run("hellopath", func(t *testing.T) {
		b := webtest.NewBrowser(t, ts)
		assert.Equal(t, "Hello, Alice!", greeting(b.Get(ts.URL+"/hellopath/Alice")))
		assert.Equal(t, "Hello, Bob!", greeting(b.Get(ts.URL+"/hellopath/Bob")), "another path, another session")
		assert.Equal(t, "Hello to you too, Alice!", greeting(b.Get(ts.URL+"/hellopath/Alice")))
	})

	t.Run("querysession", func(t *testing.T) {
		c := ts.Client() // no cookie jar
		get := func(u string) string {
			t.Helper()
			resp, err := c.Get(u)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Empty(t, resp.Header.Values("Set-Cookie"))
			return string(body)
		}
		u := ts.URL + "/querysession/"
		page := get(u)
		for _, want := range []string{"2", "3"} {
			u = webtest.Resolve(t, u, webtest.Find(t, page, `<a href="([^"]*)">Count again</a>`))
			page = get(u)
			assert.Equal(t, want, webtest.Find(t, page, `<span id="count">(\d+)</span>`))
		}
	})

	t.Run("guesspeek", func(t *testing.T) {
		b := webtest.NewBrowser(t, ts)
		page := b.Get(ts.URL + "/guesspeek/")
		id := webtest.Find(t, page, `<span id="game">([0-9a-f]+)</span>`)
		peek := webtest.Resolve(t, ts.URL+"/guesspeek/", webtest.Find(t, page, `<a href="([^"]+)">Peek`))
		require.Equal(t, ts.URL+"/guesspeek/peek", peek)
		secret := webtest.Find(t, b.Get(peek), `<tr id="game-`+id+`"><td>`+id+`</td><td class="secret">(\d+)</td>`)
		assert.Contains(t, b.Post(ts.URL+"/guesspeek/", url.Values{"guess": {secret}}), secret+" is correct!")
	})

	t.Run("slowprint", func(t *testing.T) {
		b := webtest.NewBrowser(t, ts)
		page := b.Get(ts.URL + "/slowprint/")
		page = b.Get(webtest.Resolve(t, ts.URL+"/slowprint/", webtest.Find(t, page, `<a href="([^"]*)">Start</a>`)))
		assert.Contains(t, page, `<li id="line-3">line 3 of 3</li>`)
		assert.NotContains(t, page, `id="line-4"`)
		assert.Contains(t, page, `<p id="done">`)
	})
}

// TestREPLOffTheLoopback: a tour that listens beyond loopback still
// starts; its REPL refuses every request, while the other examples work.
func TestREPLOffTheLoopback(t *testing.T) {
	for _, addr := range []string{":8080", "0.0.0.0:8080", "192.0.2.1:80"} {
		c := testConfig
		c.Addr = addr
		tr, err := newTour(c, examples(t))
		require.NoError(t, err, addr)
		ts := webtest.Serve(t, tr, tr)
		assert.Equal(t, http.StatusForbidden, status(t, ts.Client(), ts.URL+"/repl/"), addr)
		assert.Equal(t, http.StatusForbidden, status(t, ts.Client(), ts.URL+"/repl/poll"), addr)
		assert.Equal(t, http.StatusOK, status(t, ts.Client(), ts.URL+"/counter/"), addr)
	}
}

// TestREADMEExamplesTable: the README's table of examples has one row per
// examples/NAME program, each run as go run ./examples/NAME, the tour's
// row last.
func TestREADMEExamplesTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var rows []string
	for _, m := range regexp.MustCompile("(?m)^\\| ([a-z0-9_-]+) \\| `go run \\./examples/([a-z0-9_-]+)[ `]").FindAllStringSubmatch(string(readme), -1) {
		assert.Equal(t, m[1], m[2], "the row of %s runs %s", m[1], m[2])
		rows = append(rows, m[1])
	}
	mains, err := filepath.Glob("../*/main.go")
	require.NoError(t, err)
	var want []string
	for _, m := range mains {
		want = append(want, filepath.Base(filepath.Dir(m)))
	}
	assert.ElementsMatch(t, want, rows, "one row per example")
	require.NotEmpty(t, rows)
	assert.Equal(t, "tour", rows[len(rows)-1], "the tour's row is last")
	for name := range firstPages {
		assert.True(t, slices.Contains(rows, name), name)
	}
}
