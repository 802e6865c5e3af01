// Package demo runs the example programs. It holds what every example
// shares, so that each examples/NAME/main.go ends in a short main that
// calls [Main]: the flags (-addr, -fcgi, -docroot, -idle, -max-sessions,
// -admin, and -redis, -node, -keys-file, -lease-ttl for several nodes), listening
// over HTTP or FastCGI, printing where, the admin pages (metrics for
// Prometheus and the sessions page) on -admin, a graceful shutdown on
// SIGINT or SIGTERM, and a log that summarises storms.
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
)

// ShutdownTimeout bounds the graceful shutdown after a signal.
const ShutdownTimeout = 10 * time.Second

// Config is what the shared flags set.
type Config struct {
	Addr        string        // -addr: host:port to listen on for HTTP
	FCGI        string        // -fcgi: "unix:PATH" or "tcp:HOST:PORT" to serve FastCGI there instead
	DocRoot     string        // -docroot: static files; "" serves none
	IdleTimeout time.Duration // -idle: idle sessions end after this long
	MaxSessions int           // -max-sessions: live sessions at most
	// Admin is where -admin serves the admin pages (host:port), or "".
	Admin string
	// MeterProvider, set while -admin is given, is where the servers
	// report their metrics (Options puts it in Telemetry): the Prometheus
	// exporter behind /metrics reads it.
	MeterProvider metric.MeterProvider
	Log           io.Writer    // where servers log (the program's stderr)
	Logger        *slog.Logger // if set, used instead of a logger on Log

	// Mount is the path ("/NAME/") the tour mounts the example at, or ""
	// when it runs alone. Options scopes the session cookie to it.
	Mount string

	// Several nodes of one deployment (see the README's "Several nodes").
	Redis    string // -redis: URL of the Redis for journals, leases and meters; "" keeps them in memory
	Node     string // -node: this process's name in session leases
	KeysFile string // -keys-file: the signing keys, hex, one per line; "" makes random ones
	// LeaseTTL (-lease-ttl) is the session leases' TTL in Redis: how long
	// the sessions of a node that died wait before another node takes
	// them over. 0 is redistore's default (15s).
	LeaseTTL time.Duration

	shared *shared // what Run opened for the three above
}

// Options returns the continuity options the flags ask for. Errors and
// the end of every session (with its reason) are logged to Config.Logger,
// or else to Config.Log through [NewLogger]: storms of alike lines (a
// flood's evictions) are summarised, a few lines and a count every
// [LogSummaryInterval].
func (c Config) Options() *continuity.Options {
	logger := c.Logger
	if logger == nil {
		w := c.Log
		if w == nil {
			w = io.Discard
		}
		logger, _ = NewLogger(w)
	}
	o := &continuity.Options{
		DocRoot:     c.DocRoot,
		IdleTimeout: c.IdleTimeout,
		MaxSessions: c.MaxSessions,
		Logger:      logger,
		Hooks: continuity.Hooks{
			SessionEnd: func(s *continuity.Session, why error) {
				logger.Info("session ended", "session", s.LogID(), "reason", why.Error())
			},
		},
	}
	o.Telemetry.MeterProvider = c.MeterProvider
	if c.Mount != "" {
		// Several servers report to one meter provider in the tour: the
		// attribute tells their series apart.
		o.Telemetry.Attributes = []attribute.KeyValue{attribute.String("continuity.server", strings.Trim(c.Mount, "/"))}
		// Named for the example too, so that its cookie never meets
		// another server's "cid" (a standalone example run earlier on the
		// same address, say) in one request.
		o.CookiePath = c.Mount
		o.CookieName = "cid-" + strings.ReplaceAll(strings.Trim(c.Mount, "/"), "/", "-")
	}
	c.apply(o)
	return o
}

// A Server is what an example serves: a handler that shuts down
// gracefully. A *continuity.Server is one.
type Server interface {
	http.Handler
	Shutdown(ctx context.Context) error
}

// Build makes the server an example runs, from the parsed flags.
type Build func(Config) (Server, error)

// App returns a Build that serves app alone: continuity.New with the
// options of the flags.
func App(app func(*continuity.Request)) Build {
	return func(c Config) (Server, error) {
		return continuity.New(app, c.Options())
	}
}

// Main is an example's whole main function: it runs [Run] with the
// command line, stops on SIGINT or SIGTERM, and exits: 0 after a clean
// shutdown (or -h), 2 for bad flags, 1 for any other failure.
//
// flags, if given, add an example's own flags to the shared ones; build
// runs after parsing, so it sees their values.
func Main(build Build, flags ...func(*flag.FlagSet)) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the process at once.
	context.AfterFunc(ctx, stop)
	err := Run(ctx, filepath.Base(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr, build, flags...)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(os.Args[0]), err)
	os.Exit(1)
}

// errUsage marks errors in the command line; the flag package has already
// printed them with the usage.
var errUsage = errors.New("usage error")

// Run parses args, builds the server, listens, prints where to stdout
// ("listening on URL", or "serving FastCGI on unix:PATH" or
// "serving FastCGI on tcp:HOST:PORT" with -fcgi), and serves until ctx is
// done; then it shuts the server down, waiting up to [ShutdownTimeout] for
// sessions and requests to finish, and returns nil. It returns
// [flag.ErrHelp] for -h.
//
// With -admin it first prints "admin on URL", and serves there /metrics
// (the servers' OpenTelemetry metrics and the Go runtime's, in
// Prometheus's format) and the admin page at / (or, for a server of
// several, an index of their pages).
func Run(ctx context.Context, name string, args []string, stdout, stderr io.Writer, build Build, flags ...func(*flag.FlagSet)) (err error) {
	c, err := parse(name, args, stderr, flags...)
	if err != nil {
		return err
	}
	// Summaries still pending are written once the shutdown has logged
	// its session ends.
	logger, flush := NewLogger(stderr)
	defer flush()
	c.Log, c.Logger = stderr, logger
	if err := c.open(); err != nil {
		return err
	}
	defer c.shared.close()
	var adm *admin
	if c.Admin != "" {
		if adm, err = newAdmin(c.Admin, stderr); err != nil {
			return err
		}
		c.MeterProvider = adm.mp
		defer func() { err = errors.Join(err, shutdownAdmin(adm)) }()
	}
	srv, err := build(c)
	if err != nil {
		return err
	}
	if adm != nil {
		adm.serve(srv)
		fmt.Fprintf(stdout, "admin on %s\n", URL(adm.l.Addr()))
	}
	var (
		l     net.Listener
		front frontServer
	)
	if c.FCGI != "" {
		network, addr, _ := strings.Cut(c.FCGI, ":")
		if l, err = listenFCGI(network, addr, stderr); err != nil {
			return errors.Join(err, shutdown(srv, nil))
		}
		front = &adapter.FCGIServer{Handler: srv}
		fmt.Fprintf(stdout, "serving FastCGI on %s:%s\n", network, l.Addr())
	} else {
		if l, err = net.Listen("tcp", c.Addr); err != nil {
			return errors.Join(err, shutdown(srv, nil))
		}
		front = adapter.NewServer(l.Addr().String(), srv, adapter.Config{})
		fmt.Fprintf(stdout, "listening on %s\n", URL(l.Addr()))
	}
	served := make(chan error, 1)
	go func() { served <- front.Serve(l) }()

	select {
	case <-ctx.Done():
		fmt.Fprintf(stderr, "%s: shutting down\n", name)
		err = shutdown(srv, front)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	case err = <-served: // the listener failed
		return errors.Join(err, shutdown(srv, front))
	}
}

// A frontServer takes the connections: an [http.Server], or an
// [adapter.FCGIServer] behind a web server.
type frontServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// shutdown ends the sessions first, so that requests waiting on them are
// answered at once, then the front server.
func shutdown(srv Server, front frontServer) error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if front != nil {
		err = errors.Join(err, front.Shutdown(ctx))
	}
	return err
}

// shutdownAdmin stops the admin pages, once the server has shut down.
func shutdownAdmin(a *admin) error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return a.shutdown(ctx)
}

// listenFCGI listens where -fcgi says. A Unix socket file left by a
// process that died is removed first; one that still answers is not. A
// TCP address that is not loopback gets a warning: FastCGI believes
// whatever its peer says about the client.
func listenFCGI(network, addr string, stderr io.Writer) (net.Listener, error) {
	if network == "unix" {
		if fi, err := os.Lstat(addr); err == nil && fi.Mode().Type() == os.ModeSocket {
			if c, err := net.Dial("unix", addr); err == nil {
				c.Close()
				return nil, fmt.Errorf("-fcgi: %s: a server is listening there already", addr)
			}
			os.Remove(addr)
		}
		return net.Listen("unix", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err == nil {
		if ap, perr := netip.ParseAddrPort(l.Addr().String()); perr != nil || !ap.Addr().IsLoopback() {
			fmt.Fprintf(stderr, "warning: FastCGI on %s: anyone who can reach it can send requests as any client; use a Unix socket or a loopback address\n", l.Addr())
		}
	}
	return l, err
}

func parse(name string, args []string, stderr io.Writer, flags ...func(*flag.FlagSet)) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "localhost:8080", "listen on `host:port` (port 0 picks a free one)")
	fs.Func("fcgi", "serve FastCGI on `unix:PATH or tcp:HOST:PORT` instead of HTTP, for a web server in front", func(s string) error {
		network, addr, _ := strings.Cut(s, ":")
		if (network != "unix" && network != "tcp") || addr == "" {
			return errors.New("want unix:/path/to.sock or tcp:127.0.0.1:9000")
		}
		if _, _, err := net.SplitHostPort(addr); network == "tcp" && err != nil {
			return fmt.Errorf("want tcp:HOST:PORT: %w", err)
		}
		c.FCGI = s
		return nil
	})
	fs.StringVar(&c.DocRoot, "docroot", "", "serve static files from `dir` (default none)")
	fs.DurationVar(&c.IdleTimeout, "idle", continuity.DefaultIdleTimeout, "end sessions idle this long")
	fs.IntVar(&c.MaxSessions, "max-sessions", continuity.DefaultMaxSessions, "live sessions at most")
	fs.StringVar(&c.Redis, "redis", "", "keep session journals, leases and progress meters in the Redis at `URL` (redis://127.0.0.1:6379/0), so that several nodes serve one site; default: in memory")
	fs.StringVar(&c.Node, "node", "", "this node's `name` in session leases (default host:pid)")
	fs.StringVar(&c.KeysFile, "keys-file", "", "read the signing keys from `path` (hex, one per line; the first signs, all verify); default: random per process")
	fs.Func("lease-ttl", "with -redis: how long a session lease lasts unless renewed, so the `duration` the sessions of a node that died wait before another node takes them over (default 15s)", PositiveDuration(&c.LeaseTTL, false))
	fs.Func("admin", "serve the admin pages (/metrics for Prometheus, the sessions page at /) on `127.0.0.1:PORT`; a bare PORT is on loopback (default off)", func(s string) error {
		addr, err := adminAddr(s)
		c.Admin = addr
		return err
	})
	for _, f := range flags {
		f(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s [flags]\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	bad := func(err error) (Config, error) {
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return bad(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if c.MaxSessions < 1 {
		return bad(fmt.Errorf("-max-sessions must be at least 1, not %d", c.MaxSessions))
	}
	return c, nil
}

// URL is the address to browse for a listener bound to addr. An
// unspecified address (":8080", "0.0.0.0:8080") is shown as localhost,
// with the real port.
func URL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// PositiveDuration is a flag.Func parser that stores a duration greater
// than zero (or, with zeroOK, at least zero) in d.
func PositiveDuration(d *time.Duration, zeroOK bool) func(string) error {
	return func(s string) error {
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 || (v == 0 && !zeroOK) {
			return errors.New("want a positive duration such as 25s")
		}
		*d = v
		return nil
	}
}
