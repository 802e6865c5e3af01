package main

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/continuitytest"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// open serves the example as its main does, over a real socket, and
// returns a browser at its first page.
func open(t *testing.T) *continuitytest.Browser {
	t.Helper()
	srv, err := demo.App(postRedirect)(demo.Config{})
	require.NoError(t, err)
	b := continuitytest.NewRemote(t, webtest.Serve(t, srv, srv).URL+"/", nil)
	p := b.Get("/")
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Text(), "Send a number")
	return b
}

var (
	choseRE    = regexp.MustCompile(`<span id="chose">([^<]*)</span> \(number <span id="count">(\d+)</span>\)`)
	detectedRE = regexp.MustCompile(`<p id="detected">(\w+ detected)`)
)

// result is what a page says: "CHOSE #COUNT", and "RELOAD detected" or
// "BACK detected" if it says so.
func result(t *testing.T, p *continuitytest.Page) (chose, detected string) {
	t.Helper()
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	if m := choseRE.FindStringSubmatch(p.Body); m != nil {
		chose = m[1] + " #" + m[2]
	}
	if m := detectedRE.FindStringSubmatch(p.Body); m != nil {
		detected = m[1]
	}
	return chose, detected
}

// send submits the page's form with num and checks that the POST was
// answered with a 303 to a GET, whose page it returns.
func send(t *testing.T, b *continuitytest.Browser, num string) *continuitytest.Page {
	t.Helper()
	p := b.Submit(map[string]string{"num": num})
	require.Len(t, p.Redirects, 1, "Post/Redirect/Get")
	r := p.Redirects[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, http.StatusSeeOther, r.Status)
	assert.Equal(t, "/send", r.URL.Path)
	assert.Equal(t, r.Location.String(), p.URL.String(), "the page is the redirect's GET")
	return p
}

// TestPostRedirectGet: every form POSTs and is answered with a 303 to a
// GET of the result, each at an address of its own.
func TestPostRedirectGet(t *testing.T) {
	b := open(t)
	for _, tc := range []struct{ num, uri, chose string }{
		{"7", "/?n=1", "7 #1"},
		{"<b>8</b>", "/?n=2", "&lt;b&gt;8&lt;/b&gt; #2"}, // escaped by html/template
		{"9", "/?n=3", "9 #3"},
	} {
		p := send(t, b, tc.num)
		assert.Equal(t, tc.uri, p.URL.RequestURI())
		chose, detected := result(t, p)
		assert.Equal(t, tc.chose, chose)
		assert.Empty(t, detected)
	}
}

// TestReloadDetected: reloading the result asks for it again (a GET
// without the form's token), and the page says RELOAD detected; nothing
// changes, and the form of the reloaded page works.
func TestReloadDetected(t *testing.T) {
	b := open(t)
	send(t, b, "7")
	for range 2 {
		p := b.Reload()
		assert.Empty(t, p.Redirects, "the reload is the GET, not the POST again")
		chose, detected := result(t, p)
		assert.Equal(t, "7 #1", chose)
		assert.Equal(t, "RELOAD detected", detected)
	}
	chose, detected := result(t, send(t, b, "8"))
	assert.Equal(t, "8 #2", chose)
	assert.Empty(t, detected)
}

// TestBackDetected: the back button shows an older page, as it was; its
// form, sent, is not used, and the answer (the current page, not a
// redirect) says BACK detected. The current page's form still works.
func TestBackDetected(t *testing.T) {
	b := open(t)
	send(t, b, "7")
	send(t, b, "8")
	chose, _ := result(t, b.Back())
	require.Equal(t, "7 #1", chose, "the older page")

	p := b.Submit(map[string]string{"num": "9"})
	assert.Empty(t, p.Redirects)
	chose, detected := result(t, p)
	assert.Equal(t, "8 #2", chose, "the older form was not used")
	assert.Equal(t, "BACK detected", detected)

	// So does the first page's form.
	b.Back()
	chose, _ = result(t, b.Back())
	require.Empty(t, chose, "the first page")
	chose, detected = result(t, b.Submit(map[string]string{"num": "1"}))
	assert.Equal(t, "8 #2", chose)
	assert.Equal(t, "BACK detected", detected)

	// The page that says so is the current page: its form works.
	chose, detected = result(t, send(t, b, "10"))
	assert.Equal(t, "10 #3", chose)
	assert.Empty(t, detected)
}

// TestFormWithoutToken: a form sent without its token (from another site,
// or made by hand) is not used either.
func TestFormWithoutToken(t *testing.T) {
	b := open(t)
	send(t, b, "7")
	resp, err := b.Client().PostForm(b.Page().URL.ResolveReference(&url.URL{Path: "send"}).String(), url.Values{"num": {"666"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	chose, detected := result(t, b.Reload())
	assert.Equal(t, "7 #1", chose)
	assert.Equal(t, "RELOAD detected", detected)
}
