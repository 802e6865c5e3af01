package continuity

import (
	"net/http"
	"net/url"
)

// The cross-site rule: a request that another site made the browser send
// feeds no input to a session. Cross-site POSTs are refused (403) by
// [http.CrossOriginProtection], but that check lets safe methods through,
// and a top-level GET navigation from another site carries the SameSite=Lax
// cookie: a link on any page would otherwise drive the user's flow, since
// [Request.Param] reads the query and Next advances on any GET. So such a
// request reaches the application as a plain GET of its path, as if the
// user had typed the address: no query, no form, no callback token. The
// session token of ByQuery mode is identity, not input, and is kept.
//
// This does not stop a link from another site advancing a flow by one
// step, as a reload does; steps that act (pay, delete, confirm) should take
// their input from a POST ([Request.PostParam]), which other sites cannot
// send.

// crossSite reports whether r was sent on behalf of another site, judged as
// http.CrossOriginProtection judges: by Sec-Fetch-Site, which every current
// browser sends; else, for older browsers, by Origin; else by Referer, since
// browsers send no Origin with GET navigations. A request with none of them
// is the site's own or not from a browser, and it passes.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "":
	case "same-origin", "none":
		return false
	default: // cross-site, and same-site: a sibling subdomain is another origin
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		return !sameHost(o, r.Host)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return !sameHost(ref, r.Host)
	}
	return false
}

// sameHost reports whether the URL raw names host. Like
// http.CrossOriginProtection, it compares the host and port only: the Host
// header does not tell the scheme (HSTS covers HTTP-to-HTTPS).
func sameHost(raw, host string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Host != "" && u.Host == host
}

// withoutInput returns a shallow copy of r that carries no input: a GET of
// the same path with an empty query, form and body. keep, if not empty,
// names the one parameter that survives (the ByQuery session token). The
// original request is left alone, so net/http still cleans up what it
// parsed.
func withoutInput(r *http.Request, keep string) *http.Request {
	out := r.WithContext(r.Context())
	u := *r.URL
	u.RawQuery, u.ForceQuery = "", false
	form := url.Values{}
	if keep != "" {
		if v := r.Form.Get(keep); v != "" {
			form.Set(keep, v)
			u.RawQuery = form.Encode()
		}
	}
	out.URL = &u
	out.RequestURI = u.RequestURI()
	out.Method = http.MethodGet
	out.Form, out.PostForm, out.MultipartForm = form, url.Values{}, nil
	out.Body, out.ContentLength, out.GetBody = http.NoBody, 0, nil
	if r.Header.Get("Content-Type") != "" || r.Header.Get("Content-Length") != "" {
		out.Header = r.Header.Clone()
		out.Header.Del("Content-Type")
		out.Header.Del("Content-Length")
	}
	return out
}
