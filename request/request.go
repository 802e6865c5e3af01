// Package request holds the handle a continuity session's goroutine works
// with: the [Request]. It is the input of the browser's current HTTP request
// (parameters, headers, cookies) and the output of its response (an
// [io.Writer] plus status, headers, cookies and redirects), and its
// [Request.Next] method sends the response and waits for the same browser's
// next request.
//
// The package also holds [Session], the hand-off between the HTTP handlers
// that receive requests and the session goroutine that answers them. Most
// programs use it only through the root continuity package.
package request

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"time"
)

// A Request is the handle a session goroutine holds. There is one per
// session, kept for its whole life: each call to [Request.Next] finishes the
// current HTTP response and loads the next HTTP request into the same
// handle.
//
// A Request belongs to its session goroutine: its methods must not be
// called from other goroutines, except [Request.Context],
// [Request.Session] and [Request.Arrived].
type Request struct {
	s  *Session
	ex *exchange // the request in hand; nil before the first and after the last

	header     http.Header // response headers, committed on the first write
	status     int
	cbs        callbacks
	committing bool     // the BeforeCommit hook is running
	htmlType   []string // the default Content-Type header value

	// The context of the request in hand, made by RequestContext on first
	// use and cancelled when the request is finished.
	reqCtx    context.Context
	reqCancel context.CancelCauseFunc
	reqStop   func() bool // stops the session-end hook
}

// Compile-time check: a Request can be handed to anything that writes an
// HTTP response, html/template included.
var _ http.ResponseWriter = (*Request)(nil)

// Session returns the session this request handle belongs to.
func (r *Request) Session() *Session { return r.s }

// Context returns the session's context. It is cancelled when the session
// ends (reaped, evicted, shut down, or the application returned); pass it to
// slow work so that it stops with the session.
func (r *Request) Context() context.Context { return r.s.ctx }

// RequestContext returns the context of the HTTP request in hand: it is
// cancelled when that browser request goes away (the client disconnected,
// or the server stopped waiting for the response), when the session ends,
// and when the request is finished (Next or End). Pass it to anything that
// waits or streams on behalf of the request, such as [Topic.Wait], so that
// a vanished client or a shutdown frees it at once. With no request in hand
// it returns the session's context.
func (r *Request) RequestContext() context.Context {
	if r.ex == nil {
		return r.s.ctx
	}
	if r.reqCtx == nil {
		// No goroutine: the HTTP request's context is the parent, and the
		// session's end reaches it through an AfterFunc hook (the cause is
		// then the session's end reason).
		ctx, cancel := context.WithCancelCause(r.ex.r.Context())
		r.reqCtx, r.reqCancel = ctx, cancel
		sctx := r.s.ctx
		r.reqStop = context.AfterFunc(sctx, func() { cancel(context.Cause(sctx)) })
	}
	return r.reqCtx
}

// SessionToken is the signed session token when the server carries sessions
// in a query parameter (ByQuery); applications put it into their links and
// forms. It is empty in every other mode: in cookie modes the token is the
// HttpOnly cookie's value, which must never reach a page.
func (r *Request) SessionToken() string { return r.s.token }

// Next sends the current response and blocks until the same session's next
// request arrives; then it returns r, loaded with that request, so calls
// chain: name := r.Next().Param("name").
//
// If the session ends while Next waits (reaped for idleness, evicted,
// server shutdown), Next does not return: it ends the session goroutine
// with [runtime.Goexit], so deferred calls run and nothing leaks. Next must
// therefore only be called on the session goroutine. Use [Request.NextErr]
// to get an error instead.
func (r *Request) Next() *Request {
	if err := r.NextErr(); err != nil {
		runtime.Goexit()
	}
	return r
}

// NextErr is [Request.Next] that returns [ErrSessionClosed] when the session
// ends instead of ending the goroutine. The application should return soon
// after it sees the error; output methods fail from then on.
func (r *Request) NextErr() error {
	r.finish(outServed)
	return r.wait()
}

// wait blocks for the next request the session can take.
func (r *Request) wait() error {
	s := r.s
	for {
		if s.ctx.Err() != nil {
			return ErrSessionClosed
		}
		select {
		case ex := <-s.inbox:
			if r.accept(ex) {
				return nil
			}
		case <-s.ctx.Done():
			return ErrSessionClosed
		}
	}
}

// accept loads ex, just received from the inbox, as the request in hand;
// it fails if the handler already gave up on it.
func (r *Request) accept(ex *exchange) bool {
	if !ex.take(time.Time{}) {
		return false
	}
	r.ex = ex
	r.status = 0
	if len(r.header) > 0 {
		clear(r.header)
	}
	if h := r.s.hooks; h != nil && h.RequestStart != nil {
		r.s.contain("RequestStart hook", func() { h.RequestStart(r) })
	}
	return true
}

// finish ends the response in hand, committing the head if nothing was
// written, and tells the waiting handler it is done.
func (r *Request) finish(o outcome) {
	ex := r.ex
	if ex == nil {
		return
	}
	if h := r.s.hooks; h != nil && h.RequestEnd != nil && o == outServed {
		r.s.contain("RequestEnd hook", func() { h.RequestEnd(r) })
	}
	r.ex = nil
	if r.reqCancel != nil {
		r.reqStop()
		r.reqCancel(nil)
		r.reqCtx, r.reqCancel, r.reqStop = nil, nil, nil
	}
	if o == outServed {
		r.lockOut(ex)
		if ex.state == exTaken && !ex.wroteHeader {
			r.commitLocked(ex)
		}
	} else {
		ex.mu.Lock()
	}
	ex.finishLocked(o)
	ex.mu.Unlock()
}

// commitLocked writes the response head. ex.mu must be held and the state
// must be exTaken.
func (r *Request) commitLocked(ex *exchange) {
	h := ex.w.Header()
	if len(r.header) > 0 {
		r.mergeHeader(h)
	}
	if _, ok := h["Content-Type"]; !ok {
		if r.htmlType == nil {
			r.htmlType = []string{"text/html; charset=utf-8"}
		}
		h["Content-Type"] = r.htmlType // one per session, not per response
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	ex.w.WriteHeader(status)
	ex.wroteHeader = true
}

// mergeHeader copies the application's response headers over the
// server's.
func (r *Request) mergeHeader(h http.Header) {
	for k, v := range r.header {
		if k == "Set-Cookie" {
			// The server may have set the session cookie already.
			h[k] = append(h[k], v...)
			continue
		}
		h[k] = v
	}
}

// Header returns the response headers of the request in hand. Changes after
// the first Write have no effect, as with [http.ResponseWriter].
func (r *Request) Header() http.Header {
	if r.header == nil {
		r.header = make(http.Header)
	}
	return r.header
}

// WriteHeader sets the response status and sends the response head. Use
// [Request.SetStatus] to set the status without sending yet.
func (r *Request) WriteHeader(code int) {
	r.status = code
	ex := r.ex
	if ex == nil {
		return
	}
	r.lockOut(ex)
	defer ex.mu.Unlock()
	if ex.state == exTaken && !ex.wroteHeader {
		r.commitLocked(ex)
	}
}

// SetStatus sets the status code of the response in hand; it is sent with
// the first write (default 200).
func (r *Request) SetStatus(code int) { r.status = code }

// Write writes to the response in hand. It fails with [ErrNoRequest] when no
// request is in hand and with [ErrClientGone] when its browser is no longer
// listening. The default Content-Type is text/html; charset=utf-8.
func (r *Request) Write(p []byte) (int, error) {
	ex, err := r.output()
	if err != nil {
		return 0, err
	}
	defer ex.mu.Unlock()
	return ex.w.Write(p)
}

// WriteString writes s to the response in hand; see [Request.Write].
func (r *Request) WriteString(s string) (int, error) {
	ex, err := r.output()
	if err != nil {
		return 0, err
	}
	defer ex.mu.Unlock()
	return io.WriteString(ex.w, s)
}

// output locks the request in hand for writing, sending the response head
// first if it is still unsent. On success the caller must unlock ex.mu.
func (r *Request) output() (*exchange, error) {
	ex := r.ex
	if ex == nil {
		return nil, ErrNoRequest
	}
	r.lockOut(ex)
	if ex.state != exTaken || ex.r.Context().Err() != nil {
		ex.mu.Unlock()
		return nil, ErrClientGone
	}
	if !ex.wroteHeader {
		r.commitLocked(ex)
	}
	return ex, nil
}

// Print writes its operands to the response as [fmt.Print] does.
func (r *Request) Print(a ...any) { fmt.Fprint(r, a...) }

// Printf writes to the response as [fmt.Printf] does.
func (r *Request) Printf(format string, a ...any) { fmt.Fprintf(r, format, a...) }

// Flush sends what has been written so far to the browser, starting a
// streamed response. It goes through [http.ResponseController], so it
// reaches the connection through middleware that wraps the ResponseWriter.
func (r *Request) Flush() error {
	ex, err := r.output()
	if err != nil {
		return err
	}
	defer ex.mu.Unlock()
	return http.NewResponseController(ex.w).Flush()
}

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
	if r.ex == nil {
		return
	}
	r.Header().Set("Location", url)
	r.Header().Set("Content-Type", "text/html; charset=utf-8")
	r.WriteHeader(code)
}

// HTTP returns the HTTP request in hand, or nil when there is none. Treat
// it as read-only; its body has already been read into the form.
func (r *Request) HTTP() *http.Request {
	if r.ex == nil {
		return nil
	}
	return r.ex.r
}

// Method is the HTTP method of the request in hand.
func (r *Request) Method() string {
	if r.ex == nil {
		return ""
	}
	return r.ex.r.Method
}

// URL is the URL of the request in hand.
func (r *Request) URL() *url.URL {
	if r.ex == nil {
		return &url.URL{}
	}
	return r.ex.r.URL
}

// Path is the URL path of the request in hand.
func (r *Request) Path() string {
	if r.ex == nil {
		return ""
	}
	return r.ex.r.URL.Path
}

// RemoteAddr is the network address of the client of the request in hand.
func (r *Request) RemoteAddr() string {
	if r.ex == nil {
		return ""
	}
	return r.ex.r.RemoteAddr
}

// RequestHeader returns the first value of the named header of the request
// in hand.
func (r *Request) RequestHeader(name string) string {
	if r.ex == nil {
		return ""
	}
	return r.ex.r.Header.Get(name)
}

// Cookie returns the named cookie sent with the request in hand, or
// [http.ErrNoCookie].
func (r *Request) Cookie(name string) (*http.Cookie, error) {
	if r.ex == nil {
		return nil, http.ErrNoCookie
	}
	return r.ex.r.Cookie(name)
}

// form returns the parsed query and POST form of the request in hand.
func (r *Request) form() url.Values {
	if r.ex == nil {
		return nil
	}
	hr := r.ex.r
	if hr.Form == nil {
		// The server parses forms before the hand-off; this covers a
		// Session driven directly.
		_ = hr.ParseMultipartForm(32 << 10)
	}
	return hr.Form
}

// Param returns the first value of the named parameter of the request in
// hand, from the POST form or the query string (POST first), or "".
func (r *Request) Param(name string) string {
	if vs := r.form()[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Params returns every value of the named parameter: POST form values
// first, then query values.
func (r *Request) Params(name string) []string { return r.form()[name] }

// Has reports whether the request in hand carries the named parameter, even
// with an empty value.
func (r *Request) Has(name string) bool { return r.form().Has(name) }
