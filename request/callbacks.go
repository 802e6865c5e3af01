package request

import (
	"crypto/rand"
	"html"
	"net/url"
)

// CallbackParam is the query or form parameter that names a callback.
const CallbackParam = "_cb"

// callbacks are Seaside-style closures bound to links and buttons. Tokens
// come from crypto/rand, so one browser cannot guess another's, and they
// are forgotten when the callbacks run, so a link works once per render.
type callbacks map[string]func()

// CallbackURL binds fn to a fresh token and returns a relative URL
// ("?_cb=TOKEN") that runs it: when the browser follows it, the next call to
// [Request.RunCallbacks] calls fn. When the session travels in the query
// (ByQuery), the URL carries it too ("?sid=SESSION&_cb=TOKEN"): a relative
// query replaces the page's, and the session must survive the click.
func (r *Request) CallbackURL(fn func()) string {
	return "?" + r.sessionQuery() + CallbackParam + "=" + r.bind(fn)
}

// Link returns an HTML link labelled text (escaped) that runs fn when
// followed: <a href="?_cb=TOKEN">text</a> (see [Request.CallbackURL]).
func (r *Request) Link(text string, fn func()) string {
	return `<a href="` + html.EscapeString(r.CallbackURL(fn)) + `">` + html.EscapeString(text) + `</a>`
}

// Button returns an HTML submit button labelled text (escaped) that runs fn
// when its form is submitted: <button name="_cb" value="TOKEN">text</button>.
// When the session travels in the query (ByQuery), a hidden input carrying
// it comes first, because a GET form replaces the page's query with its
// fields; put the button inside the form.
func (r *Request) Button(text string, fn func()) string {
	tok := r.bind(fn)
	hidden := ""
	if r.s.queryParam != "" && r.s.token != "" {
		hidden = `<input type="hidden" name="` + html.EscapeString(r.s.queryParam) + `" value="` + html.EscapeString(r.s.token) + `">`
	}
	return hidden + `<button type="submit" name="` + CallbackParam + `" value="` + tok + `">` + html.EscapeString(text) + `</button>`
}

// bind registers fn under a fresh token.
func (r *Request) bind(fn func()) string {
	if r.cbs == nil {
		r.cbs = make(callbacks)
	}
	tok := rand.Text()
	r.cbs[tok] = fn
	return tok
}

// sessionQuery is "PARAM=TOKEN&" in ByQuery mode, else "".
func (r *Request) sessionQuery() string {
	if r.s.queryParam == "" || r.s.token == "" {
		return ""
	}
	return url.QueryEscape(r.s.queryParam) + "=" + url.QueryEscape(r.s.token) + "&"
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
