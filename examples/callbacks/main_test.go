package main

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const valueRE = `<span id="value">(-?\d+)</span>`

func TestCallbacks(t *testing.T) {
	ts := webtest.ServeApp(t, callbacks)
	b := webtest.NewBrowser(t, ts)
	home := ts.URL + "/"
	click := func(b *webtest.Browser, page, label string) string {
		t.Helper()
		href := webtest.Find(t, page, `<a href="([^"]*)">`+label+`</a>`)
		return b.Get(webtest.Resolve(t, home, href))
	}

	page := b.Get(home)
	assert.Equal(t, "0", webtest.Find(t, page, valueRE))
	first := page
	page = click(b, page, `\+1`)
	assert.Equal(t, "1", webtest.Find(t, page, valueRE))
	page = click(b, page, `\+1`)
	assert.Equal(t, "2", webtest.Find(t, page, valueRE))
	page = click(b, page, `-1`)
	assert.Equal(t, "1", webtest.Find(t, page, valueRE))

	// A link from an older page does nothing.
	page = click(b, first, `\+1`)
	assert.Equal(t, "1", webtest.Find(t, page, valueRE))

	// The Reset button is a callback too, submitted with its form.
	tok := webtest.Find(t, page, `<button type="submit" name="_cb" value="([^"]+)">Reset</button>`)
	assert.Contains(t, page, `<form method="post">`)
	page = b.Post(home, url.Values{"_cb": {tok}})
	assert.Equal(t, "0", webtest.Find(t, page, valueRE))

	// Another browser's number is its own, and its links are its own.
	other := webtest.NewBrowser(t, ts)
	otherPage := other.Get(home)
	assert.Equal(t, "-1", webtest.Find(t, click(other, otherPage, `-1`), valueRE))
	assert.Equal(t, "0", webtest.Find(t, click(b, otherPage, `-1`), valueRE), "b ran other's callback")
	assert.Equal(t, "0", webtest.Find(t, b.Get(home), valueRE))
}
