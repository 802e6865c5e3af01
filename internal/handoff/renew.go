package handoff

import (
	"errors"
	"net/http"
	"strings"
)

var (
	errNoRenew         = errors.New("continuity: RenewID: this session has no session ID to renew")
	errRenewHeaderSent = errors.New("continuity: RenewID: the response head was already sent, so the new cookie cannot be; call RenewID before writing")
)

// RenewID gives the session a new ID; request.Request.RenewID documents it.
func (r *Handle) RenewID() error {
	if r.rp != nil {
		return nil // a replayed step: the ID was renewed when it first ran
	}
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
	token, cookie, err := r.s.renew(r.s, ex.r)
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
		if v := cookie.String(); v != "" {
			r.Header().Add("Set-Cookie", v)
		}
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

// QuerySession returns the query parameter and token that carry the
// session in ByQuery mode, or two empty strings in other modes.
func (r *Handle) QuerySession() (param, token string) {
	if r.s.queryParam == "" || r.s.token == "" {
		return "", ""
	}
	return r.s.queryParam, r.s.token
}
