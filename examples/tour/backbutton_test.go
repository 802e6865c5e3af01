package main

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/continuitytest"
)

// The examples with step tokens, under their paths in the tour: their
// forms, redirects and the session's own pages stay under the path.

var (
	wizardStepRE = regexp.MustCompile(`<h2 id="step">([^<]*)</h2>`)
	wizardNameRE = regexp.MustCompile(`<span id="name">([^<]*)</span>`)
)

func heading(p *continuitytest.Page) string {
	if m := wizardStepRE.FindStringSubmatch(p.Body); m != nil {
		return m[1]
	}
	return ""
}

// TestWizardInTheTour: back from step 3 to step 1 and a new name, at
// /wizard/.
func TestWizardInTheTour(t *testing.T) {
	_, ts := serveTour(t)
	b := continuitytest.NewRemote(t, ts.URL+"/wizard/", nil)
	require.Equal(t, "Step 1 of 3", heading(b.Get(ts.URL+"/wizard/")))
	b.Submit(map[string]string{"name": "Ann"})
	p := b.Submit(map[string]string{"email": "ann@example.com"})
	require.Equal(t, "Step 3 of 3", heading(p))
	assert.Equal(t, "/wizard/step", p.URL.Path)
	assert.Contains(t, p.Body, `<a href="../_source/wizard">Go source of this example</a>`)
	b.Back()
	require.Equal(t, "Step 1 of 3", heading(b.Back()))
	require.Equal(t, "Step 2 of 3", heading(b.Submit(map[string]string{"name": "Bob"})))
	b.Submit(map[string]string{"email": "bob@example.com"})
	done := b.Press("Confirm", nil)
	require.Equal(t, "Done", heading(done))
	assert.Equal(t, "Bob", wizardNameRE.FindStringSubmatch(done.Body)[1])
}

// TestPostRedirectInTheTour: the POST's 303 leads to /postredirect/?n=1,
// and its reload says RELOAD detected.
func TestPostRedirectInTheTour(t *testing.T) {
	_, ts := serveTour(t)
	b := continuitytest.NewRemote(t, ts.URL+"/postredirect/", nil)
	b.Get(ts.URL + "/postredirect/")
	p := b.Submit(map[string]string{"num": "7"})
	require.Len(t, p.Redirects, 1)
	assert.Equal(t, http.StatusSeeOther, p.Redirects[0].Status)
	assert.Equal(t, "/postredirect/send", p.Redirects[0].URL.Path)
	assert.Equal(t, "/postredirect/?n=1", p.URL.RequestURI())
	assert.Contains(t, p.Body, `<span id="chose">7</span>`)
	assert.Contains(t, b.Reload().Body, "RELOAD detected")
	b.Submit(map[string]string{"num": "8"})
	b.Back()
	assert.Contains(t, b.Submit(map[string]string{"num": "9"}).Body, "BACK detected")
}

// TestShopInTheTour: an order placed at /shop/; an older page then gets
// 409, whose link leads to the shop's current page.
func TestShopInTheTour(t *testing.T) {
	_, ts := serveTour(t)
	b := continuitytest.NewRemote(t, ts.URL+"/shop/", nil)
	require.Equal(t, "Catalogue", heading(b.Get(ts.URL+"/shop/")))
	b.Press("Add Honey", nil)
	b.Press("Check out", nil)
	b.Submit(map[string]string{"name": "Ann", "street": "1 High Street", "city": "Oxford"})
	p := b.Press("Place order", nil)
	require.Equal(t, "Thank you", heading(p))
	assert.Equal(t, "/shop/order", p.URL.Path)

	b.Back()
	p = b.Press("Change", nil)
	require.Equal(t, http.StatusConflict, p.Status)
	link := p.Link("Go to the page you are at").URL
	assert.Equal(t, "/shop/order", link.Path, "the link stays under the mount point")
	here := b.Get(link.String())
	assert.Equal(t, "Thank you", heading(here))
}
