package main

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/examples/internal/webtest"
)

// TestSourceLinks: an example's page in the tour links to its source,
// relatively, from its root and from deeper paths; the source page shows
// main.go, escaped, and links back.
func TestSourceLinks(t *testing.T) {
	_, ts := serveTour(t)
	b := webtest.NewBrowser(t, ts)
	for _, ex := range examples(t) {
		src := b.Get(ts.URL + "/_source/" + ex.name)
		code := webtest.Find(t, src, `(?s)<pre><code>(.*)</code></pre>`)
		assert.True(t, html.UnescapeString(code) == ex.source, "%s: the source page shows main.go", ex.name)
		assert.Contains(t, src, "func main()", ex.name)
		assert.Contains(t, src, `<a href="../`+ex.name+`/">`, ex.name)
	}
	for _, path := range []string{"/counter/", "/counter/deeper/still", "/hello/", "/guess/", "/callbacks/", "/progress/", "/chat/"} {
		page := b.Get(ts.URL + path)
		name := strings.Split(path, "/")[1]
		href := webtest.Find(t, page, `<a href="([^"]*)">Go source of this example</a>`)
		assert.Equal(t, ts.URL+"/_source/"+name, webtest.Resolve(t, ts.URL+path, href), path)
		index := webtest.Find(t, page, `<a href="([^"]*)">Continuity tour</a>`)
		assert.Equal(t, ts.URL+"/", webtest.Resolve(t, ts.URL+path, index), path)
		assert.Regexp(t, `<body>\s*<p class="tour-bar">`, page, "the bar opens the body")
		assert.Equal(t, 1, strings.Count(page, `class="tour-bar"`), path)
	}
	assert.Equal(t, http.StatusNotFound, status(t, ts.Client(), ts.URL+"/_source/nothing"))
}

// serveBar answers with what h writes, behind withSourceBar, and returns
// the response.
func serveBar(t *testing.T, path string, h http.HandlerFunc) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	withSourceBar("ex", h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

const bar = `<p class="tour-bar"><a href="../">Continuity tour</a> · <a href="../_source/ex">Go source of this example</a></p>` + "\n"

func TestSourceBarPlacement(t *testing.T) {
	page := func(parts ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Length", "999")
			for _, p := range parts {
				io.WriteString(w, p)
				http.NewResponseController(w).Flush() // through Unwrap
			}
		}
	}
	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"body", []string{"<!doctype html><title>t</title><body>x"}, "<!doctype html><title>t</title><body>" + bar + "x"},
		{"split tag", []string{"<html><BO", "dy class=\"a>b\" data-x='>'", ">x</body>"}, "<html><BOdy class=\"a>b\" data-x='>'>" + bar + "x</body>"},
		{"attributes", []string{"<tbody><body\nid=b>x"}, "<tbody><body\nid=b>" + bar + "x"},
		{"no body", []string{"<!doctype html><title>t</title>x"}, "<!doctype html><title>t</title>x" + bar},
		{"not a body", []string{"<bodyguard>x"}, "<bodyguard>x" + bar},
	} {
		resp := serveBar(t, "/ex/", page(tc.parts...))
		assert.Equal(t, tc.want, body(t, resp), tc.name)
		assert.Empty(t, resp.Header.Get("Content-Length"), "%s: the length changed", tc.name)
	}

	// Other answers pass untouched.
	resp := serveBar(t, "/ex/start", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		io.WriteString(w, `{"started":true}`+"\n<body>")
	})
	assert.Equal(t, `{"started":true}`+"\n<body>", body(t, resp))
	resp = serveBar(t, "/ex/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<body>gone")
	})
	assert.Equal(t, "<body>gone", body(t, resp))
	resp = serveBar(t, "/ex/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><body>sniffed")
	})
	assert.Equal(t, "<!doctype html><body>"+bar+"sniffed", body(t, resp))
	resp = serveBar(t, "/ex", page("<body>"))
	assert.Contains(t, body(t, resp), `<a href="./">Continuity tour</a> · <a href="_source/ex">`, "from the path without its slash")
}
