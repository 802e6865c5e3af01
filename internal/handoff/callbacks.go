package handoff

import "crypto/rand"

// CallbackParam is the query or form parameter that names a callback.
const CallbackParam = "_cb"

// callbacks are Seaside-style closures bound to links and buttons. Tokens
// come from crypto/rand, so one browser cannot guess another's, and they
// are forgotten when the callbacks run, so a link works once per render.
type callbacks map[string]func()

// BindCallback binds fn to a fresh token and returns the token. With
// journaling on, the token is derived from the session's token key, the
// step and the callback's place in it rather than drawn at random, so that
// a replayed step binds the same tokens as the step did when it first ran.
func (r *Handle) BindCallback(fn func()) string {
	if r.cbs == nil {
		r.cbs = make(callbacks)
	}
	var tok string
	if j := r.s.j.Load(); j != nil {
		tok = j.callbackToken()
	} else {
		tok = rand.Text()
	}
	r.cbs[tok] = fn
	return tok
}

// RunCallbacks runs the callback named by the request in hand, if any, then
// forgets every registered callback.
func (r *Handle) RunCallbacks() bool {
	tok := r.Param(CallbackParam)
	fn := r.cbs[tok]
	r.cbs = nil
	if fn == nil {
		return false
	}
	fn()
	return true
}
