package main

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := continuity.New(components, demo.Config{}.Options())
	require.NoError(t, err)
	return webtest.Serve(t, srv, srv)
}

// counts reads the three counters off a page.
func counts(t *testing.T, page string) [3]int {
	t.Helper()
	var out [3]int
	for i := range out {
		n, err := strconv.Atoi(webtest.Find(t, page, `<span id="count-`+strconv.Itoa(i+1)+`">(-?\d+)</span>`))
		require.NoError(t, err)
		out[i] = n
	}
	return out
}

// link returns the href of the link labelled text in counter id's
// component (id 0: anywhere on the page).
func link(t *testing.T, page string, id int, text string) string {
	t.Helper()
	scope := ""
	if id > 0 {
		scope = `id="counter-` + strconv.Itoa(id) + `">[^<]*<span[^>]*>[^<]*</span>\s*(?:<a [^>]*>[^<]*</a>\s*)*?`
	}
	return webtest.Find(t, page, `(?s)`+scope+`<a href="([^"]+)">`+regexp.QuoteMeta(text)+`</a>`)
}

func TestThreeIndependentCounters(t *testing.T) {
	ts := serve(t)
	b := webtest.NewBrowser(t, ts)
	base := ts.URL + "/"
	page := b.Get(base)
	assert.Equal(t, [3]int{0, 0, 0}, counts(t, page))
	follow := func(id int, text string) {
		t.Helper()
		page = b.Get(webtest.Resolve(t, base, link(t, page, id, text)))
	}

	follow(1, "++")
	follow(1, "++")
	follow(3, "--")
	assert.Equal(t, [3]int{2, 0, -1}, counts(t, page))
	follow(2, "++")
	assert.Equal(t, [3]int{2, 1, -1}, counts(t, page))

	// A link from an older page does nothing.
	stale := link(t, page, 1, "++")
	follow(2, "--")
	page = b.Get(webtest.Resolve(t, base, stale))
	assert.Equal(t, [3]int{2, 0, -1}, counts(t, page))

	// Another browser has counters of its own.
	assert.Equal(t, [3]int{0, 0, 0}, counts(t, webtest.NewBrowser(t, ts).Get(base)))

	// The parent's own link resets its children.
	follow(0, "Reset all")
	assert.Equal(t, [3]int{0, 0, 0}, counts(t, page))
}
