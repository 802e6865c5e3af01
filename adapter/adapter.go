// Package adapter connects a continuity server (any [http.Handler]) to the
// outside world: a standalone net/http server with hardened defaults,
// mounting under a path prefix inside an existing mux, or FastCGI behind a
// web server such as nginx or Apache.
package adapter

import (
	"crypto/tls"
	"log"
	"net"
	"net/http"
	"net/http/fcgi"
	"strings"
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
func NewServer(addr string, h http.Handler, c Config) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: or(c.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       or(c.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       or(c.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    or(c.MaxHeaderBytes, DefaultMaxHeaderBytes),
		TLSConfig:         c.TLSConfig,
		ErrorLog:          c.ErrorLog,
	}
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
// as when a web server spawns the program.
func ServeFCGI(l net.Listener, h http.Handler) error {
	return fcgi.Serve(l, h)
}
