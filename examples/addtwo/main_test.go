package main

import (
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
func serve(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv, err := demo.App(addTwo)(demo.Config{})
	require.NoError(t, err)
	ts := webtest.Serve(t, srv, srv)
	return ts, ts.URL + "/"
}

func num(s string) url.Values { return url.Values{"num": {s}} }

func TestAddTwo(t *testing.T) {
	ts, base := serve(t)
	b := webtest.NewBrowser(t, ts)

	page := b.Get(base)
	assert.Contains(t, page, "What is the first number?")
	assert.Contains(t, page, `name="num"`)
	assert.NotContains(t, page, `id="message"`)

	page = b.Post(base, num("2"))
	assert.Contains(t, page, "What is the second number?")
	assert.Contains(t, page, `name="num"`)

	page = b.Post(base, num(" 3 "))
	assert.Contains(t, page, `The sum of 2 and 3 is <span id="sum">5</span>`)

	// "Add two more" starts over.
	page = b.Get(webtest.Resolve(t, base, webtest.Find(t, page, `<a href="([^"]*)">Add two more</a>`)))
	assert.Contains(t, page, "What is the first number?")
	b.Post(base, num("-7"))
	page = b.Post(base, num("99999999999999999999999999999999999999"))
	assert.Contains(t, page, `The sum of -7 and 99999999999999999999999999999999999999 is <span id="sum">99999999999999999999999999999999999992</span>`)
}

// Input that is not a number asks the same question again, with a message
// that shows the input escaped; a request without "num" (a reload) asks
// again without one.
func TestNotANumberAsksAgain(t *testing.T) {
	ts, base := serve(t)
	b := webtest.NewBrowser(t, ts)
	b.Get(base)

	for _, in := range []string{"", "abc", "1.5", "0x10", "1_000", "12345678901234567890123456789012345678901234567890123"} {
		page := b.Post(base, num(in))
		assert.Contains(t, page, "What is the first number?", "%q", in)
		assert.Contains(t, page, `<p id="message">“`+in+`” is not a whole number.`, "%q", in)
	}
	page := b.Post(base, num(`<b>4</b>`))
	assert.Contains(t, page, `<p id="message">“&lt;b&gt;4&lt;/b&gt;” is not a whole number.`)
	assert.NotContains(t, page, "<b>4")

	page = b.Get(base) // a reload
	assert.Contains(t, page, "What is the first number?")
	assert.NotContains(t, page, `id="message"`)

	b.Post(base, num("40"))
	page = b.Post(base, num("two"))
	assert.Contains(t, page, "What is the second number?")
	assert.Contains(t, page, `“two” is not a whole number.`)
	page = b.Post(base, num("+2"))
	assert.Contains(t, page, `The sum of 40 and 2 is <span id="sum">42</span>`)
}

// Two browsers add their own numbers, interleaved.
func TestTwoBrowsers(t *testing.T) {
	ts, base := serve(t)
	alice, bob := webtest.NewBrowser(t, ts), webtest.NewBrowser(t, ts)
	alice.Get(base)
	bob.Get(base)
	alice.Post(base, num("1"))
	bob.Post(base, num("10"))
	bob.Post(base, num("20"))
	page := alice.Post(base, num("2"))
	assert.Contains(t, page, `The sum of 1 and 2 is <span id="sum">3</span>`)
}
