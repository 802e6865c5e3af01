package request

import (
	"errors"
	"net/http"
	"strings"
)

var (
	errNoRenew         = errors.New("continuity: RenewID: this session has no session ID to renew")
	errRenewHeaderSent = errors.New("continuity: RenewID: the response head was already sent, so the new cookie cannot be; call RenewID before writing")
)

// RenewID gives the session a new ID and invalidates the old one, as
// OWASP asks on every change of privilege (log in, log out, sudo): a
// session ID an attacker planted or saw before the change stops working.
// In cookie modes the new signed cookie goes out with the response in
// hand; in ByQuery mode [Request.SessionToken] returns the new token,
// which the pages rendered from now on must carry (links from older pages
// no longer reach the session). With ByCookie|ByPath the cookie names the
// browser, so all of that browser's sessions move to the new ID.
//
// Call it with a request in hand, before the response head is sent (the
// first write or flush); after that it returns an error and changes
// nothing. In modes without a session ID (ByIP, ByIP|ByPath) it returns an
// error: there is nothing to renew.
func (r *Request) RenewID() error {
	ex := r.ex
	if ex == nil {
		return ErrNoRequest
	}
	if r.s.renew == nil {
		return errNoRenew
	}
	ex.mu.Lock()
	taken, sent := ex.state == exTaken, ex.wroteHeader
	ex.mu.Unlock()
	switch {
	case !taken:
		return ErrClientGone // a new cookie would be lost with it
	case sent:
		return errRenewHeaderSent
	}
	token, cookie, err := r.s.renew(ex.r)
	if err != nil {
		return err
	}
	if cookie != nil {
		// The server may have set the session cookie for this request
		// already (a new session); the new one replaces it.
		ex.mu.Lock()
		if ex.state == exTaken {
			dropCookie(ex.w.Header(), cookie.Name)
		}
		ex.mu.Unlock()
		dropCookie(r.header, cookie.Name)
		r.SetCookie(cookie)
	}
	if token != "" {
		r.s.token = token
	}
	return nil
}

// dropCookie removes the Set-Cookie lines for the cookie name from h.
func dropCookie(h http.Header, name string) {
	vs := h["Set-Cookie"]
	if len(vs) == 0 {
		return
	}
	kept := vs[:0]
	for _, v := range vs {
		if !strings.HasPrefix(v, name+"=") {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		delete(h, "Set-Cookie")
		return
	}
	h["Set-Cookie"] = kept
}
