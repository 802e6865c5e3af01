package request

import (
	"html"
	"net/url"
)

// CallbackParam is the query or form parameter that names a callback
// (the session machinery reads the same name).
const CallbackParam = "_cb"

// CallbackURL binds fn to a fresh token and returns a relative URL
// ("?_cb=TOKEN") that runs it: when the browser follows it, the next call to
// [Request.RunCallbacks] calls fn. Tokens come from crypto/rand, so one
// browser cannot guess another's. When the session travels in the query
// (ByQuery), the URL carries it too ("?sid=SESSION&_cb=TOKEN"): a relative
// query replaces the page's, and the session must survive the click.
func (r *Request) CallbackURL(fn func()) string {
	tok := r.h().BindCallback(fn)
	if param, sid := r.h().QuerySession(); param != "" {
		return "?" + url.QueryEscape(param) + "=" + url.QueryEscape(sid) + "&" + CallbackParam + "=" + tok
	}
	return "?" + CallbackParam + "=" + tok
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
	tok := r.h().BindCallback(fn)
	hidden := ""
	if param, sid := r.h().QuerySession(); param != "" {
		hidden = `<input type="hidden" name="` + html.EscapeString(param) + `" value="` + html.EscapeString(sid) + `">`
	}
	return hidden + `<button type="submit" name="` + CallbackParam + `" value="` + tok + `">` + html.EscapeString(text) + `</button>`
}

// RunCallbacks runs the callback named by the request in hand, if any, then
// forgets every registered callback (links from older pages stop working,
// so a link works once per render). It reports whether a callback ran.
// Callbacks may register new ones; those survive until the next
// RunCallbacks.
func (r *Request) RunCallbacks() bool { return r.h().RunCallbacks() }
