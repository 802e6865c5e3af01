// Package request holds the handle a continuity session's goroutine works
// with: the [Request]. It is the input of the browser's current HTTP request
// (parameters, headers, cookies) and the output of its response (an
// [io.Writer] plus status, headers, cookies and redirects), and its
// [Request.Next] method sends the response and waits for the same browser's
// next request. [Topic] and [SSE] push events to waiting browsers.
//
// Most programs use it through the root continuity package, which aliases
// its types.
package request

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/continuity-go/continuity/internal/handoff"
)

// A Request is the handle a session goroutine holds. There is one per
// session, kept for its whole life: each call to [Request.Next] finishes the
// current HTTP response and loads the next HTTP request into the same
// handle. (A replay, which runs the flow again on a new goroutine to go
// back to an earlier step, gives that goroutine a new Request; see
// [Request.StepToken].)
//
// A Request belongs to its session goroutine: its methods must not be
// called from other goroutines, except [Request.Context],
// [Request.Session] and [Request.Arrived].
//
// The server creates Requests; the zero value is not usable.
type Request handoff.Handle

// Compile-time check: a Request can be handed to anything that writes an
// HTTP response, html/template included.
var _ http.ResponseWriter = (*Request)(nil)

func (r *Request) h() *handoff.Handle { return (*handoff.Handle)(r) }

// Session returns the session this request handle belongs to.
func (r *Request) Session() *Session { return (*Session)(r.h().Session()) }

// Context returns the session's context. It is cancelled when the session
// ends (reaped, evicted, shut down, or the application returned); pass it to
// slow work so that it stops with the session. [context.Cause] tells why:
// one of the End* reasons.
func (r *Request) Context() context.Context { return r.h().Context() }

// RequestContext returns the context of the HTTP request in hand: it is
// cancelled when that browser request goes away (the client disconnected,
// or the server stopped waiting for the response), when the session ends,
// and when the request is finished (Next or End). It is how a session
// learns that its client has gone: pass it to anything that waits or
// streams on behalf of the request, such as [Topic.Wait], and select on its
// Done channel in a streaming loop, so that a vanished client or a
// shutdown frees it at once. (A write to a gone client fails with
// [ErrClientGone]; that is the error, not a signal to poll.) With no
// request in hand it returns the session's context.
func (r *Request) RequestContext() context.Context { return r.h().RequestContext() }

// SessionToken is the signed session token when the server carries sessions
// in a query parameter (ByQuery mode); applications put it into their links
// and forms. It is empty in every other mode: in cookie mode the cookie's
// value is never handed to the application, so a page cannot leak it.
func (r *Request) SessionToken() string { return r.h().SessionToken() }

// Next sends the current response and blocks until the same session's next
// request arrives; then it returns r, loaded with that request, so calls
// chain: name := r.Next().Param("name").
//
// If the session ends while Next waits (reaped for idleness, evicted,
// server shutdown), Next does not return: it ends the session goroutine
// with [runtime.Goexit], so deferred calls run and nothing leaks. So it
// does when a stale request makes the session replay its flow on a new
// goroutine (see [Request.StepToken]): then the session lives on, in the
// new goroutine, and its cleanups do not run. Next must therefore only be
// called on the session goroutine. Use [Request.NextErr] to get an error
// instead.
//
// With step tokens on, Next journals the request (method, path, query and
// form values; never cookies or headers) before it returns: the input a
// replay will feed this step.
func (r *Request) Next() *Request {
	r.h().Next()
	return r
}

// NextErr is [Request.Next] that returns an error instead of ending the
// goroutine: [ErrSessionClosed] when the session ends, or when a replay
// replaces this run of the flow (see [Request.StepToken]); an error
// wrapping [ErrDivergence] when the replay of this run diverged. The
// application should return soon after it sees the error; output methods
// fail from then on.
func (r *Request) NextErr() error { return r.h().NextErr() }

// Header returns the response headers of the request in hand. Changes after
// the first Write have no effect, as with [http.ResponseWriter].
func (r *Request) Header() http.Header { return r.h().Header() }

// WriteHeader sets the response status and sends the response head. Use
// [Request.SetStatus] to set the status without sending yet.
func (r *Request) WriteHeader(code int) { r.h().WriteHeader(code) }

// SetStatus sets the status code of the response in hand; it is sent with
// the first write (default 200).
func (r *Request) SetStatus(code int) { r.h().SetStatus(code) }

// Write writes to the response in hand. It fails with [ErrNoRequest] when no
// request is in hand, with [ErrClientGone] when its browser is no longer
// listening, and with the connection's error (an [os.ErrDeadlineExceeded])
// when the browser does not take the write within the server's write
// timeout. The default Content-Type is text/html; charset=utf-8.
func (r *Request) Write(p []byte) (int, error) { return r.h().Write(p) }

// WriteString writes s to the response in hand; see [Request.Write].
func (r *Request) WriteString(s string) (int, error) { return r.h().WriteString(s) }

// Print writes its operands to the response as [fmt.Print] does.
func (r *Request) Print(a ...any) { fmt.Fprint(r, a...) }

// Printf writes to the response as [fmt.Printf] does.
func (r *Request) Printf(format string, a ...any) { fmt.Fprintf(r, format, a...) }

// Flush sends what has been written so far to the browser, starting a
// streamed response. It goes through [http.ResponseController], so it
// reaches the connection through middleware that wraps the ResponseWriter.
func (r *Request) Flush() error { return r.h().Flush() }

// SetCookie adds a Set-Cookie header to the response in hand.
func (r *Request) SetCookie(c *http.Cookie) {
	if v := c.String(); v != "" {
		r.Header().Add("Set-Cookie", v)
	}
}

// Redirect answers the request in hand with a redirect to url. code should
// be a 3xx status (303 See Other after a POST). Call Next afterwards as
// usual: the browser's request for url is the next request.
func (r *Request) Redirect(url string, code int) {
	if r.HTTP() == nil {
		return
	}
	r.Header().Set("Location", url)
	r.Header().Set("Content-Type", "text/html; charset=utf-8")
	r.WriteHeader(code)
}

// HTTP returns the HTTP request in hand, or nil when there is none. Treat
// it as read-only; its body has already been read into the form.
func (r *Request) HTTP() *http.Request { return r.h().HTTP() }

// Method is the HTTP method of the request in hand.
func (r *Request) Method() string {
	if hr := r.HTTP(); hr != nil {
		return hr.Method
	}
	return ""
}

// URL is the URL of the request in hand.
func (r *Request) URL() *url.URL {
	if hr := r.HTTP(); hr != nil {
		return hr.URL
	}
	return &url.URL{}
}

// Path is the URL path of the request in hand.
func (r *Request) Path() string { return r.URL().Path }

// RemoteAddr is the network address of the client of the request in hand.
func (r *Request) RemoteAddr() string {
	if hr := r.HTTP(); hr != nil {
		return hr.RemoteAddr
	}
	return ""
}

// RequestHeader returns the first value of the named header of the request
// in hand.
func (r *Request) RequestHeader(name string) string {
	if hr := r.HTTP(); hr != nil {
		return hr.Header.Get(name)
	}
	return ""
}

// Cookie returns the named cookie sent with the request in hand, or
// [http.ErrNoCookie].
func (r *Request) Cookie(name string) (*http.Cookie, error) {
	if hr := r.HTTP(); hr != nil {
		return hr.Cookie(name)
	}
	return nil, http.ErrNoCookie
}

// Param returns the first value of the named parameter of the request in
// hand, from the POST form or the query string (POST first), or "".
func (r *Request) Param(name string) string { return r.h().Param(name) }

// Params returns every value of the named parameter: POST form values
// first, then query values.
func (r *Request) Params(name string) []string { return r.h().Form()[name] }

// Has reports whether the request in hand carries the named parameter, even
// with an empty value.
func (r *Request) Has(name string) bool { return r.h().Form().Has(name) }

// PostParam returns the first value of the named field of the POST body of
// the request in hand (url-encoded or multipart), never of the query
// string, or "". Read what a step acts on (a payment, a deletion) with it:
// other sites can make the browser follow a link, but not send a POST, so
// such input comes from the application's own forms.
func (r *Request) PostParam(name string) string {
	if hr := r.HTTP(); hr != nil {
		return hr.PostForm.Get(name)
	}
	return ""
}
