// Package handoff is the machinery between the HTTP handlers that receive
// a browser's requests and the one goroutine that runs the application for
// that browser: the [Session] (its queue, run loop and the bounds on each
// hand-off), the exchange of one request, and the [Handle] the session
// goroutine holds. Package request gives applications their view of it
// (request.Request and request.Session are defined on Handle and Session);
// nothing here is callable by applications.
package handoff

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
)

// A Handle is the handle a session goroutine holds. There is one per run
// of the application, usually one per session, kept for its whole life:
// each call to [Handle.Next] finishes the current HTTP response and loads
// the next HTTP request into the same handle. A replay runs the
// application again with a new Handle (see replay.go).
//
// A Handle belongs to its session goroutine: its methods must not be
// called from other goroutines, except [Handle.Context],
// [Handle.Session] and [Handle.Arrived].
type Handle struct {
	s  *Session
	ex *exchange // the request in hand; nil before the first and after the last

	header     http.Header // response headers, committed on the first write
	status     int
	cbs        callbacks
	committing bool       // the BeforeCommit hook is running
	dead       bool       // a replay replaced this run: it must end
	capturing  bool       // the response in hand is being kept for a double submit
	seen       uint8      // requests taken, up to 2: whether the first is in hand
	htmlType   *[1]string // the default Content-Type header value

	// rp, while the flow is being replayed, feeds it the journal.
	rp *replayer

	// req holds the context of the request in hand, made by
	// RequestContext on first use and cancelled when the request is
	// finished; few flows ask, so it is kept out of the Handle.
	req *requestContext
}

// requestContext is a [Handle.RequestContext] and what ends it; a handle
// reuses it from one request to the next.
type requestContext struct {
	ctx    context.Context // nil when none is made for the request in hand
	cancel context.CancelCauseFunc
	stop   func() bool // stops the session-end hook
}

// Compile-time check: a Handle can be handed to anything that writes an
// HTTP response, html/template included.
var _ http.ResponseWriter = (*Handle)(nil)

// Session returns the session this request handle belongs to.
func (r *Handle) Session() *Session { return r.s }

// Context returns the session's context. It is cancelled when the session
// ends (reaped, evicted, shut down, or the application returned); pass it to
// slow work so that it stops with the session.
func (r *Handle) Context() context.Context { return r.s.Context() }

// RequestContext returns the context of the HTTP request in hand: it is
// cancelled when that browser request goes away (the client disconnected,
// or the server stopped waiting for the response), when the session ends,
// and when the request is finished (Next or End). Pass it to anything that
// waits or streams on behalf of the request, such as [Topic.Wait], so that
// a vanished client or a shutdown frees it at once. With no request in hand
// it returns the session's context.
func (r *Handle) RequestContext() context.Context {
	if r.ex == nil {
		return r.s.Context()
	}
	if r.req == nil {
		r.req = new(requestContext)
	}
	rc := r.req
	if rc.ctx == nil {
		// No goroutine: the HTTP request's context is the parent, and the
		// session's end reaches it through an AfterFunc hook (the cause is
		// then the session's end reason).
		ctx, cancel := context.WithCancelCause(r.ex.r.Context())
		rc.ctx, rc.cancel = ctx, cancel
		sctx := r.s.Context()
		rc.stop = context.AfterFunc(sctx, func() { cancel(context.Cause(sctx)) })
	}
	return rc.ctx
}

// SessionToken is the signed session token when the server carries sessions
// in a query parameter; applications put it into their links and forms. It
// is empty in other modes.
func (r *Handle) SessionToken() string { return r.s.token }

// Next sends the current response and blocks until the same session's next
// request arrives; then it returns r, loaded with that request, so calls
// chain: name := r.Next().Param("name").
//
// If the session ends while Next waits (reaped for idleness, evicted,
// server shutdown), Next does not return: it ends the session goroutine
// with [runtime.Goexit], so deferred calls run and nothing leaks. Next must
// therefore only be called on the session goroutine. Use [Handle.NextErr]
// to get an error instead.
func (r *Handle) Next() *Handle {
	r.wait(true, true)
	return r
}

// NextErr is [Handle.Next] that returns [ErrSessionClosed] when the session
// ends, or a replay replaces this run of the flow, instead of ending the
// goroutine. The application should return soon after it sees the error;
// output methods fail from then on.
func (r *Handle) NextErr() error { return r.wait(true, false) }

// wait sends the response in hand if finish is set, then blocks for the
// next request the session can take; while the flow is replayed, the next
// request is the journal's. If exit is set, an error ends the goroutine
// instead of being returned.
//
// A parked session goroutine waits here, so this is the frame under the
// application's Next: Next and NextErr are small enough to be inlined into
// the application, and the wait on the queue is written out here rather
// than called. Garbage collection walks every parked goroutine's stack
// frame by frame on each cycle, and with many sessions parked that walk is
// most of what creating sessions costs.
func (r *Handle) wait(finish, exit bool) error {
	if finish {
		r.finish(outServed)
	}
	var err error
	switch {
	case r.dead:
		err = ErrSessionClosed
	case r.rp != nil:
		err = r.replayNext() // errLive: the replay is over
	default:
		err = errLive
	}
	s := r.s
	for err == errLive {
		if s.isCancelled() {
			err = ErrSessionClosed
			break
		}
		if s.leaving.Load() {
			s.cancel(EndHandedOff)
			err = ErrSessionClosed
			break
		}
		s.mu.Lock()
		ex := s.takeLocked()
		for ex == nil {
			s.idle = true
			// HandOff sets leaving before it looks at idle: one of the
			// two sees the other.
			if s.cancelled.Load() || s.leaving.Load() {
				break
			}
			s.wakeup.Wait() // a request or the session's end signals
			if s.cancelled.Load() || s.leaving.Load() {
				break
			}
			ex = s.takeLocked()
		}
		s.mu.Unlock()
		if ex == nil {
			continue // cancelled or leaving: the first checks say which
		}
		if s.j.Load() == nil || r.admit(ex) {
			r.accept(ex)
			err = nil
			if s.owned != nil && s.isCancelled() {
				err = r.fenced()
			}
			break
		}
		if r.dead {
			err = ErrSessionClosed
			break
		}
		// Answered by the session itself; wait for the next.
	}
	if err != nil && exit {
		runtime.Goexit()
	}
	return err
}

// accept loads ex, just taken off the queue, as the request in hand, the
// flow's next input; with journaling on, it is journaled first.
func (r *Handle) accept(ex *exchange) {
	r.ex = ex
	r.status = 0
	if len(r.header) > 0 {
		clear(r.header)
	}
	if r.seen < 2 {
		r.seen++
	}
	if j := r.s.j.Load(); j != nil {
		j.took(r, ex.r)
	}
	if h := r.s.hooks; h != nil && h.RequestStart != nil {
		r.s.contain("RequestStart hook", func() { h.RequestStart(r) })
	}
}

// finish ends the response in hand, committing the head if nothing was
// written, and tells the waiting handler it is done.
func (r *Handle) finish(o outcome) {
	ex := r.ex
	if ex == nil {
		return
	}
	if r.capturing {
		r.capturing = false
		if o == outServed {
			r.s.j.Load().keepResponse()
		}
	}
	if h := r.s.hooks; h != nil && h.RequestEnd != nil && o == outServed {
		r.s.contain("RequestEnd hook", func() { h.RequestEnd(r) })
	}
	r.ex = nil
	if rc := r.req; rc != nil && rc.ctx != nil {
		rc.stop()
		rc.cancel(nil)
		*rc = requestContext{}
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

// commitLocked fixes the response head: the application's headers go
// into the response's, and its status is kept for sending (see
// exchange.spillLocked and Session.settle). ex.mu must be held and the
// state must be exTaken.
func (r *Handle) commitLocked(ex *exchange) {
	h := ex.hdr
	if len(r.header) > 0 {
		r.mergeHeader(h)
	}
	if _, ok := h["Content-Type"]; !ok {
		if r.htmlType == nil {
			r.htmlType = &[1]string{"text/html; charset=utf-8"}
		}
		h["Content-Type"] = r.htmlType[:] // one per session, not per response
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	if r.capturing {
		r.s.j.Load().captureHead(status, r.header)
	}
	ex.status = status
	ex.wroteHeader = true
}

// mergeHeader copies the application's response headers over the
// server's. It is not inlined: its map iterator would sit in
// commitLocked's frame.
//
//go:noinline
func (r *Handle) mergeHeader(h http.Header) {
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
func (r *Handle) Header() http.Header {
	if r.header == nil {
		r.header = make(http.Header)
	}
	return r.header
}

// WriteHeader sets the response status and sends the response head. Use
// [Handle.SetStatus] to set the status without sending yet.
func (r *Handle) WriteHeader(code int) {
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
func (r *Handle) SetStatus(code int) { r.status = code }

// Write writes to the response in hand. It fails with [ErrNoRequest] when no
// request is in hand and with [ErrClientGone] when its browser is no longer
// listening. The default Content-Type is text/html; charset=utf-8.
func (r *Handle) Write(p []byte) (int, error) {
	ex, err := r.output()
	if err != nil {
		if err == errDiscard {
			return len(p), nil
		}
		return 0, err
	}
	if r.capturing {
		r.s.j.Load().capture(p, "")
	}
	if ex.bufferLocked(len(p)) {
		ex.buf = append(ex.buf, p...)
		ex.mu.Unlock()
		return len(p), nil
	}
	return ex.writeUnlock(p, "")
}

// WriteString writes s to the response in hand; see [Handle.Write].
func (r *Handle) WriteString(s string) (int, error) {
	ex, err := r.output()
	if err != nil {
		if err == errDiscard {
			return len(s), nil
		}
		return 0, err
	}
	if r.capturing {
		r.s.j.Load().capture(nil, s)
	}
	if ex.bufferLocked(len(s)) {
		ex.buf = append(ex.buf, s...)
		ex.mu.Unlock()
		return len(s), nil
	}
	return ex.writeUnlock(nil, s)
}

// output locks the request in hand for writing, fixing the response head
// first if it is still open. On success the caller must unlock ex.mu.
func (r *Handle) output() (*exchange, error) {
	ex := r.ex
	if ex == nil {
		if r.rp != nil && r.rp.req != nil {
			return nil, errDiscard // a replayed step: its page was sent long ago
		}
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

// Flush sends what has been written so far to the browser, starting a
// streamed response. It goes through [http.ResponseController], so it
// reaches the connection through middleware that wraps the ResponseWriter.
func (r *Handle) Flush() error {
	ex, err := r.output()
	if err != nil {
		if err == errDiscard {
			return nil
		}
		return err
	}
	defer ex.mu.Unlock()
	r.capturing = false // a streamed response is not kept
	if err := ex.spillLocked(); err != nil {
		return err
	}
	return http.NewResponseController(ex.w).Flush()
}

// HTTP returns the HTTP request in hand, or nil when there is none. Treat
// it as read-only; its body has already been read into the form. While
// the flow is replayed, it is the recorded request (method, URL and form,
// with the headers of the request being answered).
func (r *Handle) HTTP() *http.Request {
	if r.rp != nil {
		return r.rp.req
	}
	if r.ex == nil {
		return nil
	}
	return r.ex.r
}

// Form returns the parsed query and POST form of the request in hand.
func (r *Handle) Form() url.Values {
	hr := r.HTTP()
	if hr == nil {
		return nil
	}
	if hr.Form == nil {
		// The server parses forms before the hand-off; this covers a
		// Session driven directly.
		_ = hr.ParseMultipartForm(32 << 10)
	}
	return hr.Form
}

// Param returns the first value of the named parameter of the request in
// hand, from the POST form or the query string (POST first), or "".
func (r *Handle) Param(name string) string {
	if vs := r.Form()[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}
