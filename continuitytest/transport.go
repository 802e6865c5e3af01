package continuitytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
)

// pipeLimit is how many response bytes a handler may write ahead of the
// client's reading before its writes wait, as a socket's buffers would let
// it: a handler that flushes a first line and then keeps working (a
// progress task) must not stall because the test has not read yet.
const pipeLimit = 1 << 20

// errClientGone is what a handler's writes return once the client has
// closed the response body, as writes to a closed connection fail.
var errClientGone = errors.New("continuitytest: client closed the response")

// memTransport is an http.RoundTripper that runs its handler in this
// process, on a goroutine of its own per request, with no sockets: inside a
// testing/synctest bubble every wait in it is durably blocking, so a test
// can advance the fake clock past timeouts exactly. It owns the handler
// goroutines and waits for them in close.
type memTransport struct {
	h    http.Handler
	addr string // the RemoteAddr the handler sees

	mu      sync.Mutex
	flights map[*flight]struct{} // the requests in flight
	wg      sync.WaitGroup
}

// flight is one request in flight: how to hang up on it.
type flight struct {
	cancel context.CancelFunc // the handler's request context
	pipe   *pipe
}

// hangUp cancels the handler's context and fails its later writes.
func (f *flight) hangUp() {
	f.pipe.closeRead()
	f.cancel()
}

func newMemTransport(h http.Handler) *memTransport {
	return &memTransport{h: h, addr: randomAddr(), flights: map[*flight]struct{}{}}
}

// randomAddr returns a documentation address (2001:db8::/32) with random
// bits in its /64, so that two browsers are two clients to servers that
// key or rate-limit by address (IPv6 clients are commonly grouped by /64).
func randomAddr() string {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	_, _ = rand.Read(b[4:8])
	b[15] = 1
	port := 1024 + binary.BigEndian.Uint16(b[4:6])%60000
	return netip.AddrPortFrom(netip.AddrFrom16(b), port).String()
}

// RoundTrip serves req with the handler. It returns as soon as the handler
// commits the response head (its first write, flush, or return); the body
// streams as the handler writes it. Closing the body early, or cancelling
// req's context, cancels the handler's request context, as a closed
// connection would.
func (m *memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	sr, err := http.NewRequestWithContext(ctx, req.Method, req.URL.String(), bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	sr.Header = req.Header.Clone()
	sr.Host = req.Host
	if sr.Host == "" {
		sr.Host = req.URL.Host
	}
	sr.RequestURI = req.URL.RequestURI()
	sr.RemoteAddr = m.addr
	sr.ContentLength = int64(len(body))
	if len(body) == 0 {
		sr.Body = http.NoBody
	}

	w := &memWriter{
		header: http.Header{},
		head:   make(chan *http.Response, 1),
		pipe:   newPipe(),
		req:    req,
	}
	f := &flight{cancel: cancel, pipe: w.pipe}
	m.mu.Lock()
	m.flights[f] = struct{}{}
	m.wg.Add(1)
	m.mu.Unlock()
	stop := context.AfterFunc(req.Context(), f.hangUp)
	go func() {
		defer m.wg.Done()
		defer func() {
			stop()
			cancel()
			m.mu.Lock()
			delete(m.flights, f)
			m.mu.Unlock()
		}()
		w.serve(m.h, sr)
	}()

	select {
	case resp := <-w.head:
		if resp == nil {
			return nil, w.pipe.err()
		}
		resp.Body = &memBody{f: f, ctx: req.Context()}
		return resp, nil
	case <-req.Context().Done():
		f.hangUp()
		return nil, req.Context().Err()
	}
}

// close hangs up on the requests still in flight and waits for their
// handlers to return.
func (m *memTransport) close() {
	m.mu.Lock()
	for f := range m.flights {
		f.hangUp()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// memWriter is the handler's http.ResponseWriter and http.Flusher. It may
// be used by one goroutine at a time, handed from one to another (as
// continuity hands it to the session goroutine).
type memWriter struct {
	header http.Header
	head   chan *http.Response // one response head, or nil if the handler failed first
	pipe   *pipe
	req    *http.Request // the client's request

	mu      sync.Mutex
	status  int
	written bool // the head was sent
	noBody  bool
}

func (w *memWriter) Header() http.Header { return w.header }

func (w *memWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeaderLocked(code, nil)
}

// writeHeaderLocked commits the head; sniff, if not nil, is the first
// body bytes for Content-Type sniffing.
func (w *memWriter) writeHeaderLocked(code int, sniff []byte) {
	if w.written {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 {
		return // informational: the final head comes later
	}
	h := w.header.Clone()
	if sniff != nil && h.Get("Content-Type") == "" && h.Get("Transfer-Encoding") == "" {
		if _, set := h["Content-Type"]; !set {
			h.Set("Content-Type", http.DetectContentType(sniff))
		}
	}
	w.status, w.written = code, true
	w.noBody = code == http.StatusNoContent || code == http.StatusNotModified || w.req.Method == http.MethodHead
	length := int64(-1)
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			length = n
		}
	}
	w.head <- &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		ContentLength: length,
		Request:       w.req,
	}
}

func (w *memWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.written {
		w.writeHeaderLocked(http.StatusOK, p)
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	return w.pipe.write(p)
}

// Flush sends the head if it is not sent yet; the body bytes are already
// on their way.
func (w *memWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeaderLocked(http.StatusOK, nil)
}

// serve runs h and then ends the response: EOF after a clean return, an
// error after a panic (as a connection cut short).
func (w *memWriter) serve(h http.Handler, r *http.Request) {
	end := io.EOF
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				end = errors.New("continuitytest: handler aborted the response")
			} else {
				end = fmt.Errorf("continuitytest: handler panicked: %v", p)
			}
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.pipe.closeWrite(end)
		if !w.written {
			if end != io.EOF {
				w.written = true
				w.head <- nil
				return
			}
			w.writeHeaderLocked(http.StatusOK, nil)
		}
	}()
	h.ServeHTTP(w, r)
}

// memBody is the client's side of a response body.
type memBody struct {
	f   *flight
	ctx context.Context // the client's request context
}

func (b *memBody) Read(p []byte) (int, error) { return b.f.pipe.read(b.ctx, p) }

// Close hangs up: the handler's context is cancelled and its later writes
// fail, as after a closed connection.
func (b *memBody) Close() error {
	b.f.hangUp()
	return nil
}

// pipe carries a response body from the handler to the client. Unlike
// io.Pipe it buffers up to pipeLimit bytes, so a write waits only when the
// client is that far behind. Waits are on channels made by newPipe, which
// synctest counts as durably blocking.
type pipe struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	werr     error // set when the writer is done: io.EOF or why it stopped
	rclosed  bool
	readable chan struct{} // signalled when bytes or werr arrive
	writable chan struct{} // signalled when the reader drains or hangs up
}

func newPipe() *pipe {
	return &pipe{readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (p *pipe) write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		p.mu.Lock()
		if p.rclosed {
			p.mu.Unlock()
			return n, errClientGone
		}
		if p.werr != nil {
			p.mu.Unlock()
			return n, errors.New("continuitytest: write after the handler returned")
		}
		room := pipeLimit - p.buf.Len()
		if room <= 0 {
			p.mu.Unlock()
			<-p.writable
			continue
		}
		k := min(room, len(b))
		p.buf.Write(b[:k])
		p.mu.Unlock()
		signal(p.readable)
		b, n = b[k:], n+k
	}
	return n, nil
}

func (p *pipe) read(ctx context.Context, b []byte) (int, error) {
	for {
		p.mu.Lock()
		switch {
		case p.rclosed:
			p.mu.Unlock()
			return 0, net.ErrClosed
		case p.buf.Len() > 0:
			n, _ := p.buf.Read(b)
			p.mu.Unlock()
			signal(p.writable)
			return n, nil
		case p.werr != nil:
			err := p.werr
			p.mu.Unlock()
			return 0, err
		}
		p.mu.Unlock()
		select {
		case <-p.readable:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (p *pipe) closeWrite(err error) {
	p.mu.Lock()
	if p.werr == nil {
		p.werr = err
	}
	p.mu.Unlock()
	signal(p.readable)
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	p.rclosed = true
	p.buf.Reset()
	p.mu.Unlock()
	signal(p.writable)
}

// err is why the writer stopped, for a handler that failed before its head.
func (p *pipe) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.werr
}
