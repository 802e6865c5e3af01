// Package demo runs the example programs. It holds what every example
// shares, so that each examples/NAME/main.go is one line: the flags
// (-addr, -docroot, -idle, -max-sessions), listening, printing the URL,
// and a graceful shutdown on SIGINT or SIGTERM.
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
	"syscall"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
)

// ShutdownTimeout bounds the graceful shutdown after a signal.
const ShutdownTimeout = 10 * time.Second

// Config is what the shared flags set.
type Config struct {
	Addr        string        // -addr: host:port to listen on
	DocRoot     string        // -docroot: static files; "" serves none
	IdleTimeout time.Duration // -idle: idle sessions end after this long
	MaxSessions int           // -max-sessions: live sessions at most
	Log         io.Writer     // where servers log (the program's stderr)
	Logger      *slog.Logger  // if set, used instead of a logger on Log
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
	return &continuity.Options{
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

// Run parses args, builds the server, listens, prints
// "listening on URL" to stdout, and serves until ctx is done; then it
// shuts the server down, waiting up to [ShutdownTimeout] for sessions and
// requests to finish, and returns nil. It returns [flag.ErrHelp] for -h.
func Run(ctx context.Context, name string, args []string, stdout, stderr io.Writer, build Build, flags ...func(*flag.FlagSet)) error {
	c, err := parse(name, args, stderr, flags...)
	if err != nil {
		return err
	}
	// Summaries still pending are written once the shutdown has logged
	// its session ends.
	logger, flush := NewLogger(stderr)
	defer flush()
	c.Log, c.Logger = stderr, logger
	srv, err := build(c)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return errors.Join(err, shutdown(srv, nil))
	}
	hs := adapter.NewServer(l.Addr().String(), srv, adapter.Config{})
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()
	fmt.Fprintf(stdout, "listening on %s\n", URL(l.Addr()))

	select {
	case <-ctx.Done():
		fmt.Fprintf(stderr, "%s: shutting down\n", name)
		err = shutdown(srv, hs)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	case err = <-served: // the listener failed
		return errors.Join(err, shutdown(srv, hs))
	}
}

// shutdown ends the sessions first, so that requests waiting on them are
// answered at once, then the HTTP server.
func shutdown(srv Server, hs *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if hs != nil {
		err = errors.Join(err, hs.Shutdown(ctx))
	}
	return err
}

func parse(name string, args []string, stderr io.Writer, flags ...func(*flag.FlagSet)) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "localhost:8080", "listen on `host:port` (port 0 picks a free one)")
	fs.StringVar(&c.DocRoot, "docroot", "", "serve static files from `dir` (default none)")
	fs.DurationVar(&c.IdleTimeout, "idle", continuity.DefaultIdleTimeout, "end sessions idle this long")
	fs.IntVar(&c.MaxSessions, "max-sessions", continuity.DefaultMaxSessions, "live sessions at most")
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
