package demo

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// An AdminPager is a server with an admin page: a *continuity.Server is
// one ([continuity.Server.AdminPage]).
type AdminPager interface{ AdminPage() http.Handler }

// An AdminLister is a server that lists its sessions as JSON: a
// *continuity.Server is one ([continuity.Server.AdminHandler]).
type AdminLister interface{ AdminHandler() http.Handler }

// An AdminPagesServer serves several continuity servers, each with its
// admin page, by name: the tour is one.
type AdminPagesServer interface {
	AdminPages() map[string]http.Handler
}

// adminAddr resolves the -admin flag: a bare port ("9090" or ":9090")
// means that port on the loopback address, since the admin pages show
// what sessions expose; "host:port" is taken as it is.
func adminAddr(s string) (string, error) {
	if s == "" {
		return "", errors.New("want 127.0.0.1:PORT, or a PORT on the loopback address")
	}
	if _, err := strconv.ParseUint(s, 10, 16); err == nil {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("want 127.0.0.1:PORT, or a PORT on the loopback address: %w", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("bad port %q", port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// admin is what -admin serves: the server's metrics at /metrics, for
// Prometheus, through OpenTelemetry's Prometheus exporter (with the Go
// runtime's own collector beside them), the admin page at /, and the
// same listing as JSON at /sessions.json.
type admin struct {
	reg *prometheus.Registry
	mp  *sdkmetric.MeterProvider
	l   net.Listener
	hs  *http.Server
	// served receives what hs.Serve returned, once serve has started it.
	served chan error
}

// newAdmin listens on addr and makes the meter provider the servers
// report to; serve starts serving once the server is built. A listener
// off the loopback address gets a warning on stderr.
func newAdmin(addr string, stderr io.Writer) (*admin, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-admin: %w", err)
	}
	if ap, err := netip.ParseAddrPort(l.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
		fmt.Fprintf(stderr, "warning: admin pages on %s: anyone who can reach it sees every session and what it exposes; use a loopback address\n", l.Addr())
	}
	return &admin{reg: reg, mp: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), l: l}, nil
}

// serve serves the admin pages of srv until shutdown.
func (a *admin) serve(srv Server) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	if l, ok := srv.(AdminLister); ok {
		mux.Handle("GET /sessions.json", l.AdminHandler())
	}
	var pages map[string]http.Handler
	switch s := srv.(type) {
	case AdminPager:
		mux.Handle("GET /{$}", s.AdminPage())
	case AdminPagesServer:
		pages = s.AdminPages()
		for name, h := range pages {
			mux.Handle("GET /"+name+"/{$}", h)
		}
	}
	if _, ok := srv.(AdminPager); !ok {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			names := slices.Sorted(func(yield func(string) bool) {
				for name := range pages {
					if !yield(name) {
						return
					}
				}
			})
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			adminIndex.Execute(w, names)
		})
	}
	a.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.served = make(chan error, 1)
	go func() { a.served <- a.hs.Serve(a.l) }()
}

// shutdown stops serving the admin pages, then the meter provider.
func (a *admin) shutdown(ctx context.Context) error {
	var err error
	if a.hs != nil {
		err = a.hs.Shutdown(ctx)
		if serr := <-a.served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	} else {
		err = a.l.Close()
	}
	return errors.Join(err, a.mp.Shutdown(ctx))
}

var adminIndex = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>admin</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style></head>
<body><h1>Admin</h1>
<ul>{{range .}}<li><a href="{{.}}/">{{.}}</a></li>
{{end}}<li><a href="metrics">metrics</a> (Prometheus)</li></ul>
</body></html>
`))
