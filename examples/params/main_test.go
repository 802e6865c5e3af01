package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs the example as main builds it, on a real socket.
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := demo.App(params)(demo.Config{})
	require.NoError(t, err)
	return webtest.Serve(t, srv, srv)
}

// table is the HTML of the table under the heading id ("query", "form").
func table(t *testing.T, page, id string) string {
	t.Helper()
	return webtest.Find(t, page, `(?s)<div id="`+id+`">(.*?)</div>`)
}

func TestQuery(t *testing.T) {
	ts := serve(t)
	b := webtest.NewBrowser(t, ts)
	page := b.Get(ts.URL + "/?b=2&a=1&a=&a=3&%3Cx%3E=%22%3Cy%3E%22&empty=")
	assert.Contains(t, page, "<h1>Parameters of this GET request</h1>")
	assert.Equal(t, `<table>
<tr><th>&lt;x&gt;</th><td>&#34;&lt;y&gt;&#34;</td></tr>
<tr><th>a</th><td>1</td><td></td><td>3</td></tr>
<tr><th>b</th><td>2</td></tr>
<tr><th>empty</th><td></td></tr>
</table>`, table(t, page, "query"))
	assert.Equal(t, "<p>none</p>", table(t, page, "form"))

	page = b.Get(ts.URL + "/")
	assert.Equal(t, "<p>none</p>", table(t, page, "query"))
}

// The page's own link and form fill the tables.
func TestTryIt(t *testing.T) {
	ts := serve(t)
	b := webtest.NewBrowser(t, ts)
	page := b.Get(ts.URL + "/")

	link := webtest.Resolve(t, ts.URL+"/", webtest.Find(t, page, `<a href="([^"]*)">a link with a query</a>`))
	assert.Equal(t, `<table>
<tr><th>&lt;b&gt;</th><td>&lt;i&gt;</td></tr>
<tr><th>a</th><td>1</td><td>2</td><td>3</td></tr>
<tr><th>b</th><td></td></tr>
</table>`, table(t, b.Get(link), "query"))

	// What a browser sends for the form as it stands.
	action := webtest.Resolve(t, ts.URL+"/", webtest.Find(t, page, `<form method="post" action="([^"]*)">`))
	page = b.Post(action, url.Values{
		"text":   {"hello"},
		"blank":  {""},
		"colour": {"red", "blue"},
		"note":   {"<b>markup</b> stays text\r\non two lines"},
	})
	assert.Contains(t, page, "<h1>Parameters of this POST request</h1>")
	assert.Equal(t, `<table>
<tr><th>from</th><td>form</td><td>action</td></tr>
</table>`, table(t, page, "query"))
	assert.Equal(t, `<table>
<tr><th>blank</th><td></td></tr>
<tr><th>colour</th><td>red</td><td>blue</td></tr>
<tr><th>note</th><td>&lt;b&gt;markup&lt;/b&gt; stays text`+"\r\n"+`on two lines</td></tr>
<tr><th>text</th><td>hello</td></tr>
</table>`, table(t, page, "form"))
}

// A multipart form (a form with enctype="multipart/form-data") shows the
// same.
func TestMultipartForm(t *testing.T) {
	ts := serve(t)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range [][2]string{{"x", "1"}, {"y", ""}, {"x", "2"}} {
		require.NoError(t, mw.WriteField(f[0], f[1]))
	}
	require.NoError(t, mw.Close())
	resp, err := ts.Client().Post(ts.URL+"/?q=", mw.FormDataContentType(), &body)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "<table>\n<tr><th>q</th><td></td></tr>\n</table>", table(t, string(page), "query"))
	assert.Equal(t, `<table>
<tr><th>x</th><td>1</td><td>2</td></tr>
<tr><th>y</th><td></td></tr>
</table>`, table(t, string(page), "form"))
}

// A link from another site arrives without its query, as the doc comment
// says: the server's cross-site rule.
func TestCrossSiteLinkCarriesNoQuery(t *testing.T) {
	ts := serve(t)
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/?a=1", nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "<p>none</p>", table(t, string(page), "query"))
}
