package request

import (
	"crypto/rand"
	"html"
)

// CallbackParam is the query or form parameter that names a callback.
const CallbackParam = "_cb"

// callbacks are Seaside-style closures bound to links and buttons. Tokens
// come from crypto/rand, so one browser cannot guess another's, and they
// are forgotten when the callbacks run, so a link works once per render.
type callbacks map[string]func()

// CallbackURL binds fn to a fresh token and returns a relative URL
// ("?_cb=TOKEN") that runs it: when the browser follows it, the next call to
// [Request.RunCallbacks] calls fn.
func (r *Request) CallbackURL(fn func()) string {
	if r.cbs == nil {
		r.cbs = make(callbacks)
	}
	tok := rand.Text()
	r.cbs[tok] = fn
	return "?" + CallbackParam + "=" + tok
}

// Link returns an HTML link labelled text (escaped) that runs fn when
// followed: <a href="?_cb=TOKEN">text</a>.
func (r *Request) Link(text string, fn func()) string {
	return `<a href="` + r.CallbackURL(fn) + `">` + html.EscapeString(text) + `</a>`
}

// Button returns an HTML submit button labelled text (escaped) that runs fn
// when its form is submitted: <button name="_cb" value="TOKEN">text</button>.
func (r *Request) Button(text string, fn func()) string {
	if r.cbs == nil {
		r.cbs = make(callbacks)
	}
	tok := rand.Text()
	r.cbs[tok] = fn
	return `<button type="submit" name="` + CallbackParam + `" value="` + tok + `">` + html.EscapeString(text) + `</button>`
}

// RunCallbacks runs the callback named by the request in hand, if any, then
// forgets every registered callback (links from older pages stop working).
// It reports whether a callback ran. Callbacks may register new ones; those
// survive until the next RunCallbacks.
func (r *Request) RunCallbacks() bool {
	tok := r.Param(CallbackParam)
	fn := r.cbs[tok]
	r.cbs = nil
	if fn == nil {
		return false
	}
	fn()
	return true
}
