package request

import "html"

// CallbackParam is the query or form parameter that names a callback
// (the session machinery reads the same name).
const CallbackParam = "_cb"

// CallbackURL binds fn to a fresh token and returns a relative URL
// ("?_cb=TOKEN") that runs it: when the browser follows it, the next call to
// [Request.RunCallbacks] calls fn. Tokens come from crypto/rand, so one
// browser cannot guess another's.
func (r *Request) CallbackURL(fn func()) string {
	return "?" + CallbackParam + "=" + r.h().BindCallback(fn)
}

// Link returns an HTML link labelled text (escaped) that runs fn when
// followed: <a href="?_cb=TOKEN">text</a>.
func (r *Request) Link(text string, fn func()) string {
	return `<a href="` + r.CallbackURL(fn) + `">` + html.EscapeString(text) + `</a>`
}

// Button returns an HTML submit button labelled text (escaped) that runs fn
// when its form is submitted: <button name="_cb" value="TOKEN">text</button>.
func (r *Request) Button(text string, fn func()) string {
	return `<button type="submit" name="` + CallbackParam + `" value="` + r.h().BindCallback(fn) + `">` + html.EscapeString(text) + `</button>`
}

// RunCallbacks runs the callback named by the request in hand, if any, then
// forgets every registered callback (links from older pages stop working,
// so a link works once per render). It reports whether a callback ran.
// Callbacks may register new ones; those survive until the next
// RunCallbacks.
func (r *Request) RunCallbacks() bool { return r.h().RunCallbacks() }
