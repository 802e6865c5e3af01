// Command repl evaluates JavaScript typed on the server in a browser (Perl
// Continuity's minimal-serverside.pl). Open the page; it keeps a long poll
// (GET poll) open. Each line typed on the server's standard input goes to
// the page, which evaluates it and posts the result back (POST result);
// the server prints the result.
//
//	go run ./examples/repl [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:127.0.0.1:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//	1 + 1
//	[3f2a9c0d1e4b5a67] "2"
//
// WARNING: this hands a browser code to run, and takes what the browser
// answers. It serves loopback only: -addr must be a loopback address (with
// -fcgi, a Unix socket or a loopback port), a request over HTTP must
// arrive on a loopback address, and a request whose Host header is not a
// loopback name ("localhost", "*.localhost", 127.0.0.1, [::1]) gets 403
// Forbidden. The Host check is what stops DNS rebinding: a web page from
// evil.example whose name is made to resolve to 127.0.0.1 reaches this
// server with "Host: evil.example" and is refused. Do not remove these
// checks, or serve it behind a proxy that rewrites Host (with -fcgi, the
// web server in front must be reachable from this machine only).
//
// Standard input is opened only by the first request those checks let in:
// until someone uses the page, the program leaves its input alone. That is
// how it sits in the tour, which serves every example in one process: the
// tour reads its standard input only once /repl/ is opened, and a tour
// listening beyond loopback (-addr :8080) still starts, with /repl/
// answering 403 and standard input never read. Shutdown stops the reader:
// on Unix it reads through the runtime's poller ([demo.Stdin]), so that
// closing it ends a read in progress; elsewhere that read ends with the
// process.
//
//tour:title REPL
//tour:about Lines typed on the server's terminal run as JavaScript in your browser (loopback only).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// pollWait bounds a long poll with no line to answer with (under the
// server's 30s queue timeout).
const pollWait = 25 * time.Second

// repl is the server: the continuity sessions (one per browser), the lines
// read from the input, and the output the results go to.
type repl struct {
	srv   *continuity.Server
	lines continuity.Topic[string] // every line typed, numbered from 1
	wait  time.Duration
	guard guard

	open    func() io.Reader // the input, opened by the first request let in
	mu      sync.Mutex       // guards what follows
	in      io.Reader        // nil until opened
	stopped chan struct{}    // closed when the reader has returned; nil until it starts
	closed  bool             // by Shutdown: no reader starts after it

	outMu sync.Mutex // sessions print concurrently
	out   io.Writer
}

// newREPL serves the page where c lets it (see [guardFor]). The first
// request let in opens the input and starts reading it; Shutdown stops
// both: if the input is an io.Closer it is closed, which ends a read in
// progress on a pipe or on [demo.Stdin], and Shutdown waits for the reader
// to return.
func newREPL(c demo.Config, open func() io.Reader, out io.Writer, wait time.Duration) (*repl, error) {
	g, err := guardFor(c)
	if err != nil {
		return nil, err
	}
	p := &repl{open: open, out: out, wait: wait, guard: g}
	if p.srv, err = continuity.New(p.flow, c.Options()); err != nil {
		return nil, err
	}
	return p, nil
}

// startReading opens the input and reads it, the first time.
func (p *repl) startReading() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped != nil || p.closed {
		return
	}
	p.in = p.open()
	p.stopped = make(chan struct{})
	go p.read(p.in, p.stopped)
}

// read publishes each line of the input to every page's long poll.
// Publish never blocks, so a slow or absent browser cannot stall it.
func (p *repl) read(in io.Reader, stopped chan<- struct{}) {
	defer close(stopped)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			p.lines.Publish(line)
		}
	}
}

// flow is one browser's session. done is the last line whose result came
// back: the poll hands out the line after it until its result arrives,
// so a poll answer lost on the way is sent again, and lines run in order.
func (p *repl) flow(r *continuity.Request) {
	done := p.lines.Version() // lines typed before the page opened are not its own
	for {
		switch r.Path() {
		case "/poll":
			done = p.poll(r, done)
		case "/result":
			done = p.result(r, done)
		default:
			replPage.Execute(r, nil)
		}
		r.Next()
	}
}

// poll answers {"id": N, "code": LINE} with the line after done, waiting
// for one up to p.wait, or 204 No Content if none came: the page then
// asks again.
func (p *repl) poll(r *continuity.Request, done uint64) uint64 {
	evs, next, err := p.lines.Wait(r.RequestContext(), done, p.wait)
	if errors.Is(err, continuity.ErrBehind) {
		done = next // lines this page missed are gone; go on from the oldest kept
	}
	if len(evs) == 0 {
		r.WriteHeader(http.StatusNoContent)
		return done
	}
	r.Header().Set("Content-Type", "application/json")
	r.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(r).Encode(struct {
		ID   uint64 `json:"id"`
		Code string `json:"code"`
	}{evs[0].Version, evs[0].Value})
	return done
}

// result prints the result of line id, if that is the line after done.
func (p *repl) result(r *continuity.Request, done uint64) uint64 {
	id, err := strconv.ParseUint(r.PostParam("id"), 10, 64)
	switch {
	case r.Method() != http.MethodPost || err != nil:
		http.Error(r, "want POST id=N&result=TEXT", http.StatusBadRequest)
		return done
	case id != done+1:
		http.Error(r, "not the line awaited (already printed?)", http.StatusConflict)
		return done
	}
	p.outMu.Lock()
	// Quoted, an answer cannot send escape sequences to the terminal.
	fmt.Fprintf(p.out, "[%s] %q\n", r.Session().LogID(), r.PostParam("result"))
	p.outMu.Unlock()
	r.WriteHeader(http.StatusNoContent)
	return id
}

// ServeHTTP answers the requests the guard lets in; the first of them
// starts the reader.
func (p *repl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if why := p.guard.refuse(r); why != "" {
		http.Error(w, why, http.StatusForbidden)
		return
	}
	p.startReading()
	p.srv.ServeHTTP(w, r)
}

// Shutdown ends the sessions, then stops the reader, if it started.
func (p *repl) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	first := !p.closed
	p.closed = true
	in, stopped := p.in, p.stopped
	p.mu.Unlock()
	err := p.srv.Shutdown(ctx)
	c, ok := in.(io.Closer)
	if !ok { // never started, or a read that only the process's end stops
		return err
	}
	if first {
		err = errors.Join(err, c.Close())
	}
	select {
	case <-stopped:
		return err
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
}

// A guard decides which requests may reach the REPL.
type guard struct {
	off       string // if set, why every request is refused
	checkConn bool   // the connection must have come to a loopback address
}

// guardFor decides from the flags where the REPL may answer. On its own
// it will not start on an address beyond loopback. Mounted in the tour,
// which must start for the other examples, it answers 403 instead. An
// unset -addr (a test's listener) leaves it to each request's connection.
// Behind -fcgi on a Unix socket, the socket's permissions decide who
// connects, and the Host check remains.
func guardFor(c demo.Config) (guard, error) {
	where, addr := "-addr", c.Addr
	if network, a, _ := strings.Cut(c.FCGI, ":"); network == "tcp" {
		where, addr = "-fcgi", a
	} else if network == "unix" {
		return guard{}, nil
	}
	if addr == "" || loopbackHost(addr) {
		return guard{checkConn: c.FCGI == ""}, nil
	}
	why := fmt.Sprintf("repl serves loopback only; %s %q is not a loopback address", where, addr)
	if c.Mount == "" {
		return guard{}, errors.New(why)
	}
	return guard{off: why + ": run with -addr localhost:PORT to use it"}, nil
}

// refuse says why r may not reach the REPL, or "" if it may.
func (g guard) refuse(r *http.Request) string {
	if g.off != "" {
		return g.off
	}
	if g.checkConn {
		local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if !ok || !loopbackHost(local.String()) {
			return "this server answers only on a loopback address"
		}
	}
	if !loopbackHost(r.Host) {
		return "this server answers only to localhost" // DNS rebinding
	}
	return ""
}

// loopbackHost reports whether host, a Host header or a listening
// address, with or without a port, names the loopback interface.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // browsers resolve these to loopback themselves (RFC 6761)
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// The page evaluates each line in the global scope ((0, eval)) and shows
// code and result as text, never as HTML.
var replPage = template.Must(template.New("repl").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>REPL</title></head>
<body>
<h1>REPL</h1>
<p id="status">Waiting for a line typed on the server…</p>
<pre id="log"></pre>
<script>
const log = document.getElementById("log"), status = document.getElementById("status");
const pause = ms => new Promise(done => setTimeout(done, ms));
async function run() {
  for (;;) {
    let resp;
    try { resp = await fetch("poll", {cache: "no-store"}); } catch (e) { status.textContent = "Disconnected; retrying."; await pause(1000); continue; }
    if (resp.status === 204) continue;
    if (!resp.ok) { status.textContent = "Error " + resp.status + "; retrying."; await pause(1000); continue; }
    const {id, code} = await resp.json();
    let result;
    try { result = String((0, eval)(code)); } catch (e) { result = "error: " + e; }
    log.textContent += "> " + code + "\n" + result + "\n";
    status.textContent = "Evaluated line " + id + ".";
    await fetch("result", {method: "POST", body: new URLSearchParams({id: String(id), result})}).catch(() => {});
  }
}
run();
</script>
</body>
</html>
`))

func main() {
	demo.Main(func(c demo.Config) (demo.Server, error) {
		p, err := newREPL(c, demo.Stdin, os.Stdout, pollWait)
		if err != nil {
			return nil, err
		}
		return p, nil
	})
}
