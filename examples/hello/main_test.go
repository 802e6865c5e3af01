package main

import (
	"html"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHello(t *testing.T) {
	ts := webtest.ServeApp(t, hello)
	b := webtest.NewBrowser(t, ts)
	home := ts.URL + "/"

	page := b.Get(home)
	assert.Contains(t, page, `<form method="post">`)
	assert.Contains(t, page, `<input name="name"`)

	// An empty name asks again.
	page = b.Post(home, url.Values{"name": {"  "}})
	assert.Contains(t, page, `<input name="name"`)
	assert.NotContains(t, page, "Hello, ")

	name := `<script>alert("Bobby")</script> & co`
	page = b.Post(home, url.Values{"name": {name}})
	assert.Contains(t, page, "Hello, "+html.EscapeString(name)+"!")
	assert.NotContains(t, page, "<script>")

	// Start over.
	page = b.Get(webtest.Resolve(t, home, webtest.Find(t, page, `<a href="([^"]*)">Start over</a>`)))
	assert.Contains(t, page, `<input name="name"`)
	page = b.Post(home, url.Values{"name": {"Ada"}})
	assert.Contains(t, page, "Hello, Ada!")
}
