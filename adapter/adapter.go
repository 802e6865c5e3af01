// Package adapter connects a continuity server (any [http.Handler]) to the
// outside world: a standalone net/http server with hardened defaults,
// mounting under a path prefix inside an existing mux, or FastCGI behind a
// web server such as nginx or Apache.
package adapter

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/fcgi"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of [Config]. They follow the usual hardening
// advice for internet-facing Go servers (slowloris, oversized headers).
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// Config holds the limits of a standalone server. The zero value is the
// hardened default.
type Config struct {
	// ReadHeaderTimeout bounds reading a request's headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included. Default 60s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response. Default 0 (none), because a
	// global write timeout would cut off long-polls and streams; sessions
	// bound their own responses.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for its
	// next request. Default 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers; larger requests
	// get 431. Default 64 KiB.
	MaxHeaderBytes int
	// TLSConfig, if set, is used by ServeTLS and ListenAndServeTLS.
	TLSConfig *tls.Config
	// ErrorLog receives net/http's own errors (bad requests, TLS
	// handshakes). Nil means the log package's standard logger.
	ErrorLog *log.Logger
}

// NewServer returns an [http.Server] for h on addr with c's limits.
//
// Its Shutdown does not wait for slow clients. When Shutdown is called, a
// connection still waiting for its first request's headers is closed, and
// one whose request body has not been read to its end (by the handler, or
// by net/http discarding what the handler left) has its reads cut at once:
// the handler sees a read error, and the connection closes after its
// answer. Shutdown otherwise waits as usual, for handlers whose request
// was read in full (their context is not cancelled) and for responses
// being written. So a body sent a byte a second cannot hold a shutdown for
// the whole ReadTimeout and make it fail. Call Shutdown once the
// application no longer takes work (after continuity's Server.Shutdown),
// as requests still arriving then could only be refused.
//
// The server's ConnState and ConnContext hooks and its Handler (a wrapper
// around h) do this bookkeeping; replace them and Shutdown waits for slow
// clients as a plain http.Server does.
func NewServer(addr string, h http.Handler, c Config) *http.Server {
	t := new(tracker)
	hs := &http.Server{
		Addr:              addr,
		Handler:           t.wrap(h),
		ConnState:         t.connState,
		ConnContext:       t.connContext,
		ReadHeaderTimeout: or(c.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       or(c.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       or(c.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    or(c.MaxHeaderBytes, DefaultMaxHeaderBytes),
		TLSConfig:         c.TLSConfig,
		ErrorLog:          c.ErrorLog,
	}
	hs.RegisterOnShutdown(t.cut)
	return hs
}

// A tracker knows, for each connection of one server, whether it is
// still receiving a request, so that shutdown can cut those reads. It
// takes no lock per request: the connection's record travels in the
// request's context, and the map is touched when a connection opens and
// closes.
type tracker struct {
	conns    sync.Map // net.Conn -> *connInfo, from accept until closed or hijacked
	shutting atomic.Bool
}

type connInfo struct {
	conn      net.Conn
	state     atomic.Int32 // http.ConnState
	receiving atomic.Bool  // a request body has not been read to its end
}

type connKey struct{}

// connContext runs as a connection is accepted, before its StateNew.
func (t *tracker) connContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{conn: c}
	t.conns.Store(c, ci)
	return context.WithValue(ctx, connKey{}, ci)
}

func (t *tracker) connState(c net.Conn, s http.ConnState) {
	if s == http.StateClosed || s == http.StateHijacked {
		t.conns.Delete(c)
		return
	}
	v, ok := t.conns.Load(c)
	if !ok {
		return
	}
	ci := v.(*connInfo)
	ci.state.Store(int32(s))
	if s == http.StateIdle { // between requests: the last body is done with
		ci.receiving.Store(false)
	}
}

// wrap marks a request as receiving until its body has been read to the
// end. The handler gets a shallow copy of the request with a watching
// body; net/http keeps the original, so its own handling of the body
// (100-continue, discarding what the handler left) is unchanged. HTTP/2
// is left alone: its streams share a connection, and cutting its reads
// would cut them all.
func (t *tracker) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ci, _ := r.Context().Value(connKey{}).(*connInfo)
		if ci == nil || r.Body == nil || r.Body == http.NoBody || r.ProtoMajor != 1 {
			h.ServeHTTP(w, r)
			return
		}
		ci.receiving.Store(true)
		if t.shutting.Load() { // cut has run, or is running and may miss it
			ci.conn.SetReadDeadline(time.Now())
		}
		r2 := new(http.Request)
		*r2 = *r
		r2.Body = &trackedBody{ReadCloser: r.Body, ci: ci}
		h.ServeHTTP(w, r2)
		if r2.MultipartForm != nil && r.MultipartForm == nil {
			// net/http removes the temporary files of the form it knows.
			r2.MultipartForm.RemoveAll()
		}
	})
}

// cut runs when Shutdown is called. A connection still waiting for its
// first request's headers is closed (net/http would close it after 5s;
// a read deadline could be overwritten by the header timeout that its
// goroutine sets when it starts). A connection whose handler has a body
// not read to its end gets a read deadline in the past, so the read in
// progress (the handler's, or net/http's discarding what it left) fails
// now rather than at ReadTimeout, and the handler can still answer.
// Connections whose request was read in full are left alone: a read
// deadline there would end net/http's background read and cancel the
// handler's context.
func (t *tracker) cut() {
	t.shutting.Store(true)
	now := time.Now()
	t.conns.Range(func(_, v any) bool {
		ci := v.(*connInfo)
		switch {
		case http.ConnState(ci.state.Load()) == http.StateNew:
			ci.conn.Close()
		case ci.receiving.Load():
			ci.conn.SetReadDeadline(now)
		}
		return true
	})
}

// trackedBody clears its connection's receiving mark at the body's end.
type trackedBody struct {
	io.ReadCloser
	ci *connInfo
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.ci.receiving.Store(false)
	}
	return n, err
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Mount returns a handler that serves h under prefix inside another mux:
// the prefix is stripped from the path h sees, as [http.StripPrefix] does.
// prefix "/app/" and "/app" are the same. Register the result for the
// prefix with a trailing slash, mux.Handle("/app/", adapter.Mount("/app/", h)).
// Only whole path segments match: "/application" is not under "/app" (404).
func Mount(prefix string, h http.Handler) http.Handler {
	p := strings.TrimSuffix(prefix, "/")
	strip := http.StripPrefix(p, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, p); ok && rest != "" && rest[0] != '/' {
			http.NotFound(w, r)
			return
		}
		strip.ServeHTTP(w, r)
	})
}

// ServeFCGI serves h over FastCGI on l (a Unix or TCP socket the front web
// server connects to) until l is closed. A nil l serves on standard input,
// as when a web server spawns the program. To shut down gracefully, use an
// [FCGIServer].
func ServeFCGI(l net.Listener, h http.Handler) error {
	return fcgi.Serve(l, h)
}

// An FCGIServer serves Handler over FastCGI, as [ServeFCGI] does, and
// shuts down gracefully, as an [http.Server] does. FastCGI trusts its peer
// entirely (the peer says what the client's address is, and whether the
// request came over TLS), so listen on a Unix socket or a loopback address
// that only the web server can reach.
type FCGIServer struct {
	Handler http.Handler

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*fcgiConn]struct{}
	open      int           // requests begun and not yet ended, on all connections
	idle      chan struct{} // closed when open reaches 0 after Shutdown
}

// Serve serves FastCGI connections accepted on l until
// [FCGIServer.Shutdown]; then it returns [http.ErrServerClosed]. Otherwise
// it returns l's Accept error.
func (s *FCGIServer) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return http.ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*fcgiConn]struct{})
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	err := fcgi.Serve(fcgiListener{l, s}, s.Handler)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, l)
	if s.closed {
		return http.ErrServerClosed
	}
	return err
}

// Shutdown stops accepting connections, waits until every request begun
// has been answered to its end (FCGI_END_REQUEST sent), or until ctx ends
// (it then returns ctx's error), and closes every connection. Shut the
// application down first (continuity's Server.Shutdown), so that requests
// waiting on sessions are answered at once.
func (s *FCGIServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	var idle chan struct{}
	if s.open > 0 {
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle = s.idle
	}
	s.mu.Unlock()
	var err error
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.mu.Lock()
	conns := make([]*fcgiConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return err
}

// fcgiListener keeps its server's record of connections.
type fcgiListener struct {
	net.Listener
	s *FCGIServer
}

func (l fcgiListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed { // accepted as Shutdown closed the listener
		c.Close()
		return nil, net.ErrClosed
	}
	fc := &fcgiConn{Conn: c, s: s, open: make(map[uint16]bool)}
	s.conns[fc] = struct{}{}
	return fc, nil
}

// An fcgiConn follows the records on a connection, both ways, to know
// which requests it has begun and not yet ended. The FastCGI server reads
// from one goroutine and writes under its own lock, so each direction's
// scanner is used by one goroutine at a time.
type fcgiConn struct {
	net.Conn
	s       *FCGIServer
	in, out recordScanner
	open    map[uint16]bool // guarded by s.mu; nil once closed
}

// FastCGI record types of the requests' beginning and end.
const (
	fcgiBeginRequest = 1
	fcgiEndRequest   = 3
)

func (c *fcgiConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.scan(p[:n], func(typ byte, id uint16) {
		if typ == fcgiBeginRequest {
			c.track(id, true)
		}
	})
	return n, err
}

func (c *fcgiConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.scan(p[:n], func(typ byte, id uint16) {
		if typ == fcgiEndRequest {
			c.track(id, false)
		}
	})
	return n, err
}

// track records that request id has begun or ended.
func (c *fcgiConn) track(id uint16, begun bool) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.open == nil || c.open[id] == begun {
		return
	}
	if begun {
		c.open[id] = true
		s.open++
		return
	}
	delete(c.open, id)
	s.ended(1)
}

// ended counts n requests ended; the caller holds s.mu.
func (s *FCGIServer) ended(n int) {
	if s.open -= n; s.open == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// Close forgets the connection: its requests can no longer be answered.
func (c *fcgiConn) Close() error {
	s := c.s
	s.mu.Lock()
	if c.open != nil {
		s.ended(len(c.open))
		c.open = nil
		delete(s.conns, c)
	}
	s.mu.Unlock()
	return c.Conn.Close()
}

// A recordScanner follows a stream of FastCGI records and reports each
// record's type and request ID as its header goes by.
type recordScanner struct {
	head [8]byte
	n    int // bytes of head seen
	skip int // bytes of content and padding left in the current record
}

func (r *recordScanner) scan(p []byte, fn func(typ byte, id uint16)) {
	for len(p) > 0 {
		if r.skip > 0 {
			k := min(r.skip, len(p))
			r.skip -= k
			p = p[k:]
			continue
		}
		k := copy(r.head[r.n:], p)
		r.n += k
		p = p[k:]
		if r.n == len(r.head) {
			r.n = 0
			r.skip = int(binary.BigEndian.Uint16(r.head[4:])) + int(r.head[6])
			fn(r.head[1], binary.BigEndian.Uint16(r.head[2:]))
		}
	}
}
