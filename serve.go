package continuity

import (
	"context"
	"errors"
	"net"
	"net/http"

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
	hs, err := s.track(l.Addr().String())
	if err != nil {
		l.Close()
		return err
	}
	return hs.Serve(l)
}

// ServeTLS serves the application over TLS on l with the given certificate
// and key files (or Options.Adapter.TLSConfig's certificates if both are
// empty). Session cookies get the Secure attribute.
func (s *Server) ServeTLS(l net.Listener, certFile, keyFile string) error {
	hs, err := s.track(l.Addr().String())
	if err != nil {
		l.Close()
		return err
	}
	return hs.ServeTLS(l, certFile, keyFile)
}

func (s *Server) track(addr string) (*http.Server, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil, http.ErrServerClosed
	}
	hs := adapter.NewServer(addr, s, s.opts.Adapter)
	s.servers = append(s.servers, hs)
	return hs, nil
}

// Shutdown stops the server gracefully: new sessions are refused, every
// session's context is cancelled so that Next ends its goroutine, the
// listeners started by Serve close, and Shutdown waits for the session
// goroutines and in-flight requests until ctx is done. It returns nil, or
// an error naming how many sessions did not finish when ctx expired. It is
// safe to call more than once, and after Close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	// Sessions first: handlers waiting on them are then released at once,
	// so http.Server.Shutdown does not wait out its deadline on them.
	errs := []error{s.mapper.Close(ctx)}
	s.mu.Lock()
	servers := s.servers
	s.mu.Unlock()
	for _, hs := range servers {
		errs = append(errs, hs.Shutdown(ctx))
	}
	s.closeRoot()
	return errors.Join(errs...)
}

// Close stops the server at once: sessions are cancelled (their goroutines
// end as soon as they reach Next or return) and listeners and connections
// started by Serve are closed. Close does not wait; use Shutdown for that.
func (s *Server) Close() error {
	s.closing.Store(true)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.mapper.Close(done) // cancels every session; returns without waiting
	s.mu.Lock()
	servers := s.servers
	s.mu.Unlock()
	var errs []error
	for _, hs := range servers {
		errs = append(errs, hs.Close())
	}
	s.closeRoot()
	return errors.Join(errs...)
}

// closeRoot closes the DocRoot; later static requests get 404.
func (s *Server) closeRoot() {
	if s.root != nil {
		s.root.Close()
	}
}
