package continuity

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"

	"github.com/continuity-go/continuity/adapter"
)

// ListenAndServe listens on addr (host:port) and serves the application
// with the hardened limits of [Options.Adapter]. It returns
// [http.ErrServerClosed] after Shutdown or Close.
func (s *Server) ListenAndServe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve serves the application on l; see [Server.ListenAndServe].
func (s *Server) Serve(l net.Listener) error {
	hs, p, err := s.track(l)
	if err != nil {
		l.Close()
		return err
	}
	return hs.Serve(p)
}

// ServeTLS serves the application over TLS on l with the given certificate
// and key files (or Options.Adapter.TLSConfig's certificates if both are
// empty). Session cookies get the Secure attribute.
func (s *Server) ServeTLS(l net.Listener, certFile, keyFile string) error {
	hs, p, err := s.track(l)
	if err != nil {
		l.Close()
		return err
	}
	return hs.ServeTLS(p, certFile, keyFile)
}

func (s *Server) track(l net.Listener) (*http.Server, *pausable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil, nil, http.ErrServerClosed
	}
	hs := adapter.NewServer(l.Addr().String(), s, s.opts.Adapter)
	p := newPausable(l)
	s.servers = append(s.servers, hs)
	s.lns = append(s.lns, p)
	return hs, p, nil
}

// StopListening closes the listeners started by Serve and ListenAndServe,
// so the port refuses new connections, without ending anything else:
// sessions, open connections and requests in flight carry on (POE
// SimpleHTTP's STOPLISTEN). [Server.StartListening] opens them again.
func (s *Server) StopListening() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.lns {
		p.pause()
	}
}

// StartListening reopens listeners closed by StopListening, on the same
// addresses; Serve goes on accepting as if nothing happened.
func (s *Server) StartListening() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, p := range s.lns {
		errs = append(errs, p.resume())
	}
	return errors.Join(errs...)
}

// Shutdown stops the server gracefully: new sessions are refused, every
// session's context is cancelled so that Next ends its goroutine, the
// listeners started by Serve close, and Shutdown waits for the session
// goroutines and in-flight requests until ctx is done. Clients still
// sending a request then (a slow upload, headers a byte at a time) are cut
// rather than waited for, as [adapter.NewServer] describes: they could
// only be refused. The admin page's sampler stops, and the server's
// metrics are unregistered from the meter provider. It returns nil, or an
// error naming how many sessions did not finish when ctx expired. It is
// safe to call more than once, and after Close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	if s.handOff() {
		// Shared sessions go on elsewhere: each ends after its current
		// step, keeping its journal and releasing its lease.
		// The sessions that are not shared (path mode's, which stay on
		// their node) are not waited for: they end below.
		waitUntil(ctx, func() bool { return !s.sharedLive() })
	}
	// Sessions first: handlers waiting on them are then released at once,
	// so http.Server.Shutdown does not wait out its deadline on them.
	errs := []error{s.mapper.Close(ctx), s.progress.Shutdown(ctx)}
	s.stopRenewing()
	s.mu.Lock()
	servers := s.servers
	s.mu.Unlock()
	for _, hs := range servers {
		errs = append(errs, hs.Shutdown(ctx))
	}
	s.closeRoot()
	s.sampler.stop()
	s.tel.close()
	s.stop()
	return errors.Join(errs...)
}

// Close stops the server at once: sessions are cancelled (their goroutines
// end as soon as they reach Next or return) and listeners and connections
// started by Serve are closed; the admin page's sampler stops, and the
// server's metrics are unregistered. Close does not wait for sessions; use
// Shutdown for that.
func (s *Server) Close() error {
	s.closing.Store(true)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.mapper.Close(done) // cancels every session; returns without waiting
	s.stopRenewing()
	_ = s.progress.Shutdown(done)
	s.mu.Lock()
	servers := s.servers
	s.mu.Unlock()
	var errs []error
	for _, hs := range servers {
		errs = append(errs, hs.Close())
	}
	s.closeRoot()
	s.sampler.stop()
	s.tel.close()
	s.stop()
	return errors.Join(errs...)
}

// closeRoot closes the DocRoot; later static requests get 404.
func (s *Server) closeRoot() {
	if s.root != nil {
		s.root.Close()
	}
}

// pausable is a listener that can close its socket and later reopen it on
// the same address while its Accept loop (http.Server.Serve) waits.
type pausable struct {
	addr net.Addr

	mu      sync.Mutex
	cur     net.Listener  // nil while paused
	resumed chan struct{} // closed by resume
	closed  bool
	done    chan struct{} // closed by Close
}

func newPausable(l net.Listener) *pausable {
	return &pausable{addr: l.Addr(), cur: l, done: make(chan struct{})}
}

func (p *pausable) Accept() (net.Conn, error) {
	for {
		p.mu.Lock()
		l, wait, closed := p.cur, p.resumed, p.closed
		p.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if l == nil {
			select {
			case <-wait:
				continue
			case <-p.done:
				return nil, net.ErrClosed
			}
		}
		c, err := l.Accept()
		if err != nil {
			p.mu.Lock()
			swapped := p.cur != l && !p.closed
			p.mu.Unlock()
			if swapped {
				continue // paused (or resumed) under us
			}
			return nil, err
		}
		return c, nil
	}
}

func (p *pausable) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || p.closed {
		return
	}
	p.cur.Close()
	p.cur = nil
	p.resumed = make(chan struct{})
}

func (p *pausable) resume() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil || p.closed {
		return nil
	}
	l, err := net.Listen(p.addr.Network(), p.addr.String())
	if err != nil {
		return err
	}
	p.cur = l
	close(p.resumed)
	return nil
}

func (p *pausable) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	close(p.done)
	if p.cur != nil {
		return p.cur.Close()
	}
	return nil
}

func (p *pausable) Addr() net.Addr { return p.addr }
