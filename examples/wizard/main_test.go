package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/continuitytest"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve serves the example as its main does, over a real socket, and
// returns its address.
func serve(t *testing.T) string {
	t.Helper()
	srv, err := build(demo.Config{})
	require.NoError(t, err)
	return webtest.Serve(t, srv, srv).URL + "/"
}

// open is a new browser at the example's first page.
func open(t *testing.T, base string) *continuitytest.Browser {
	t.Helper()
	b := continuitytest.NewRemote(t, base, nil)
	p := b.Get("/")
	require.Equal(t, "Step 1 of 3", step(t, p))
	// So that the browser keeps the page for its back button.
	require.Equal(t, "private, no-cache", p.Header.Get("Cache-Control"))
	return b
}

var (
	stepRE = regexp.MustCompile(`<h2 id="step">([^<]*)</h2>`)
	spanRE = regexp.MustCompile(`<span id="(name|email)">([^<]*)</span>`)
)

// step is the heading that says which step a page is.
func step(t *testing.T, p *continuitytest.Page) string {
	t.Helper()
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	m := stepRE.FindStringSubmatch(p.Body)
	require.NotNil(t, m, "no step heading in %s", p.Body)
	return m[1]
}

// shown is what a page shows as the name and the email: "NAME EMAIL".
func shown(p *continuitytest.Page) string {
	var parts []string
	for _, m := range spanRE.FindAllStringSubmatch(p.Body, -1) {
		parts = append(parts, m[2])
	}
	return strings.Join(parts, " ")
}

// TestWizardBackAndResubmit: from step 3, back twice to step 1 and a new
// name: the flow goes back to step 1 and takes it, asks for the email
// again, and the done page shows only the new name.
func TestWizardBackAndResubmit(t *testing.T) {
	b := open(t, serve(t))
	require.Equal(t, "Step 2 of 3", step(t, b.Submit(map[string]string{"name": "Ann"})))
	p := b.Submit(map[string]string{"email": "ann@example.com"})
	require.Equal(t, "Step 3 of 3", step(t, p))
	require.Equal(t, "Ann ann@example.com", shown(p))

	b.Back()
	require.Equal(t, "Step 1 of 3", step(t, b.Back()))
	p = b.Submit(map[string]string{"name": "Bob"})
	assert.Equal(t, "Step 2 of 3", step(t, p), "the new name is step 1's input")
	assert.Contains(t, p.Text(), "Hello, Bob.")
	assert.NotContains(t, p.Body, `id="notice"`, "going back is not a stale request under Rewind")

	p = b.Submit(map[string]string{"email": "bob@example.com"})
	require.Equal(t, "Step 3 of 3", step(t, p))
	assert.Equal(t, "Bob bob@example.com", shown(p))
	done := b.Press("Confirm", nil)
	require.Equal(t, "Done", step(t, done))
	assert.Equal(t, "Bob bob@example.com", shown(done))
	assert.NotContains(t, done.Body, "Ann")
	assert.NotContains(t, done.Body, "ann@")

	// Back to step 2 from the done page, and a new address: the name stays.
	b.Back()
	require.Equal(t, "Step 2 of 3", step(t, b.Back()))
	p = b.Submit(map[string]string{"email": "robert@example.com"})
	require.Equal(t, "Step 3 of 3", step(t, p))
	assert.Equal(t, "Bob robert@example.com", shown(p))
	assert.Equal(t, "Bob robert@example.com", shown(b.Press("Confirm", nil)))

	// And the flow starts over from the done page.
	assert.Equal(t, "Step 1 of 3", step(t, b.Press("Start again", nil)))
}

// TestWizardDoubleSubmit: step 1's form sent twice at once advances the
// flow once: both answers are the same step 2 page, and the next step
// takes the email.
func TestWizardDoubleSubmit(t *testing.T) {
	b := open(t, serve(t))
	first, second := b.DoubleSubmit(map[string]string{"name": "Ann"})
	assert.Equal(t, "Step 2 of 3", step(t, first))
	assert.Equal(t, "Step 2 of 3", step(t, second))
	// The same page, the same token: had the flow taken the second
	// request too, one of them would be step 3's page, with no email.
	assert.Equal(t, first.Body, second.Body)
	p := b.Submit(map[string]string{"email": "ann@example.com"})
	require.Equal(t, "Step 3 of 3", step(t, p))
	assert.Equal(t, "Ann ann@example.com", shown(p))
}

// TestWizardReloadWithoutToken: a request without k (a reload of a page
// reached by GET, the address typed again) advances nothing and gets the
// current step's page again, with a notice; so does one with k but
// missing the token.
func TestWizardReloadWithoutToken(t *testing.T) {
	b := open(t, serve(t))
	b.Submit(map[string]string{"name": "Ann"})

	p := b.Get("/")
	assert.Equal(t, "Step 2 of 3", step(t, p))
	assert.Contains(t, p.Body, `<p id="notice">`)
	assert.Contains(t, p.Text(), "Hello, Ann.")

	// A form without its token (a cross-site form, a hand-made request):
	// the email is not taken.
	resp, err := b.Client().PostForm(p.URL.String(), url.Values{"email": {"eve@example.com"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// The page reloaded still works, and the flow is where it was.
	p = b.Submit(map[string]string{"email": "ann@example.com"})
	require.Equal(t, "Step 3 of 3", step(t, p))
	assert.Equal(t, "Ann ann@example.com", shown(p))
	assert.Equal(t, "Step 3 of 3", step(t, b.Reload()), "a reload of step 3 shows step 3")
}

// TestWizardAsksAgain: an empty name or an address without @ asks again.
func TestWizardAsksAgain(t *testing.T) {
	b := open(t, serve(t))
	p := b.Submit(map[string]string{"name": "  "})
	assert.Equal(t, "Step 1 of 3", step(t, p))
	assert.Contains(t, p.Body, `<p id="problem">Please type your name.</p>`)
	b.Submit(map[string]string{"name": "<b>Ann</b>"})
	p = b.Submit(map[string]string{"email": "nowhere"})
	assert.Equal(t, "Step 2 of 3", step(t, p))
	assert.Contains(t, p.Body, `id="problem"`)
	p = b.Submit(map[string]string{"email": "ann@example.com"})
	require.Equal(t, "Step 3 of 3", step(t, p))
	assert.Equal(t, "&lt;b&gt;Ann&lt;/b&gt; ann@example.com", shown(p), "escaped by html/template")
}

// TestWizardForeignToken: a token from another browser's session is
// refused, and advances nothing.
func TestWizardForeignToken(t *testing.T) {
	base := serve(t)
	ann, eve := open(t, base), open(t, base)
	form := eve.Page().Form("").Values()
	form.Set("name", "Eve")
	resp, err := ann.Client().PostForm(base, form)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "Step 2 of 3", step(t, ann.Submit(map[string]string{"name": "Ann"})))
}
