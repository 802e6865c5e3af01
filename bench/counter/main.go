// Command counter measures the counter flow of a continuity server against
// a bare net/http handler doing the same cookie work (an HMAC-signed cookie
// verified on every request, a map lookup under a mutex, the same page),
// each in a process of its own, on loopback.
//
// The default run alternates the two servers, round by round, with
// keep-alive connections and with a connection per request, at 1, 50 and
// 500 concurrent clients (each client its own browser, so its own
// session), and prints requests per second, the median and 99th
// percentile latency, the server's CPU per request (utime+stime from
// /proc/PID/stat) and the ratios continuity/bare. It takes about a
// minute and a half on two cores.
//
//	go run ./bench/counter [-modes ka,conn] [-clients 1,50,500] [-duration 2s] [-rounds 2]
//
// With -sessions N it parks N sessions in a fresh server of each kind
// instead (with keep-alive, and with a connection per request) and prints
// the resident memory per session (VmRSS growth over the idle server,
// divided by N; raw, and after a GC that returns free memory to the OS),
// the creation rate, and then the keep-alive step at 50 clients with the N
// sessions parked, with the share of the server's CPU spent in garbage
// collection.
//
//	go run ./bench/counter -sessions 100000 [-modes ka,conn] [-servers continuity,bare]
//
// -servers picks the servers (default continuity,bare); a third, floor,
// is the bare handler with a goroutine per browser that holds the count
// and prints the page while the handler waits (internal/barecounter's
// Parked): the least a goroutine-per-session server does, to tell what
// continuity adds from what any such design pays. Every server's ratios
// to bare are printed.
//
//	go run ./bench/counter -servers continuity,bare,floor
//
// With -profile DIR the servers write CPU, heap, mutex and block profiles
// there: in the load runs, of the first round at -profile-clients
// keep-alive clients; with -sessions, of the session creation. Mutex and
// block profiling slow the servers: do not quote the figures of a
// profiled run.
//
// The client is a minimal HTTP/1.1 client on raw connections, much
// lighter than net/http's; it shares the machine's cores with the server,
// the same for both servers. Everything is bounded in time: each request
// by a 10 s deadline, each measurement by -duration, each server process
// by the parent's life (it exits when its stdin closes).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/continuity-go/continuity/bench/internal/load"
	"github.com/continuity-go/continuity/bench/internal/proc"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.modes, "modes", "ka,conn", "connection modes: ka (keep-alive), conn (a connection per request)")
	flag.StringVar(&cfg.clients, "clients", "1,50,500", "concurrent clients, each a browser with its own session")
	flag.StringVar(&cfg.servers, "servers", "continuity,bare", "servers to measure: continuity, bare, floor (bare with a goroutine per browser)")
	flag.DurationVar(&cfg.duration, "duration", 2*time.Second, "measured time per round")
	flag.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each round")
	flag.IntVar(&cfg.rounds, "rounds", 2, "rounds per setting, alternating the servers' order")
	flag.IntVar(&cfg.sessions, "sessions", 0, "park this many sessions and report memory per session and creation rate (instead of the load runs)")
	flag.IntVar(&cfg.creators, "session-clients", 50, "concurrent clients creating sessions in -sessions mode")
	flag.IntVar(&cfg.stepClients, "step-clients", 50, "keep-alive clients stepping with the sessions parked in -sessions mode (0: none)")
	flag.StringVar(&cfg.profile, "profile", "", "write the servers' CPU, heap, mutex and block profiles to this directory")
	flag.IntVar(&cfg.profileClients, "profile-clients", 50, "in the load runs, profile the first keep-alive round with this many clients")
	serveKind := flag.String("serve", "", "(internal) be the server of this kind: continuity or bare")
	maxSessions := flag.Int("max-sessions", 10000, "(internal) the server's MaxSessions")
	profileRates := flag.Bool("profile-rates", false, "(internal) turn on mutex and block profiling")
	flag.Parse()
	if *serveKind != "" {
		if err := serve(*serveKind, *maxSessions, *profileRates); err != nil {
			fmt.Fprintln(os.Stderr, "counter server:", err)
			os.Exit(1)
		}
		return
	}
	if err := cfg.run(); err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(1)
	}
}

type config struct {
	modes, clients, servers string
	duration, warmup        time.Duration
	rounds                  int
	sessions, creators      int
	stepClients             int
	profile                 string
	profileClients          int
}

func (cfg *config) run() error {
	modes := strings.Split(cfg.modes, ",")
	for _, m := range modes {
		if m != "ka" && m != "conn" {
			return fmt.Errorf("unknown mode %q (want ka or conn)", m)
		}
	}
	kinds := strings.Split(cfg.servers, ",")
	for _, k := range kinds {
		if k != "continuity" && k != "bare" && k != "floor" {
			return fmt.Errorf("unknown server %q (want continuity, bare or floor)", k)
		}
	}
	var clients []int
	for f := range strings.SplitSeq(cfg.clients, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return fmt.Errorf("bad -clients value %q", f)
		}
		clients = append(clients, n)
	}
	if cfg.profile != "" {
		if err := os.MkdirAll(cfg.profile, 0o755); err != nil {
			return err
		}
		abs, err := filepath.Abs(cfg.profile)
		if err != nil {
			return err
		}
		cfg.profile = abs
	}
	if _, err := proc.RaiseFileLimit(); err != nil {
		return err
	}
	if cfg.sessions > 0 {
		return cfg.runSessions(modes, kinds)
	}
	return cfg.runLoad(modes, clients, kinds)
}

// runLoad starts one server of each kind and measures them in
// alternating rounds.
func (cfg *config) runLoad(modes []string, clients []int, kinds []string) error {
	servers := make([]*server, len(kinds))
	defer func() {
		for _, s := range servers {
			if s != nil {
				s.stop()
			}
		}
	}()
	for i, k := range kinds {
		s, err := start(k, max(slices.Max(clients)*2, 10000), cfg.profile != "")
		if err != nil {
			return err
		}
		servers[i] = s
	}
	fmt.Printf("counter flow on loopback; %v warm-up + %v measured per round, %d rounds, servers alternating\n",
		cfg.warmup, cfg.duration, cfg.rounds)
	if cfg.profile != "" {
		fmt.Println("(profiling: mutex and block profiles are on; do not quote these figures)")
	}
	for _, mode := range modes {
		ka := mode == "ka"
		for _, n := range clients {
			results := make([][]measurement, len(servers))
			for round := range cfg.rounds {
				for j := range servers {
					i := j
					if round%2 == 1 {
						i = len(servers) - 1 - j // alternate the order
					}
					prof := ""
					if cfg.profile != "" && ka && n == cfg.profileClients && round == 0 {
						prof = filepath.Join(cfg.profile, fmt.Sprintf("%s-ka%d", servers[i].kind, n))
					}
					m, err := servers[i].load(n, ka, cfg.warmup, cfg.duration, prof)
					if err != nil {
						return err
					}
					results[i] = append(results[i], m)
				}
			}
			report(mode, n, servers, results)
		}
	}
	return nil
}

func modeName(mode string) string {
	if mode == "ka" {
		return "keep-alive"
	}
	return "connection per request"
}

func report(mode string, n int, servers []*server, results [][]measurement) {
	fmt.Printf("\n%s, %d client(s)\n", modeName(mode), n)
	fmt.Printf("  %-12s %10s %9s %9s %9s %7s   %s\n", "server", "req/s", "p50", "p99", "CPU/req", "errors", "req/s by round")
	sums := make([]measurement, len(servers))
	for i, s := range servers {
		sum := merge(results[i])
		sums[i] = sum
		var byRound []string
		for _, m := range results[i] {
			byRound = append(byRound, fmt.Sprintf("%.0f", m.Rate()))
		}
		fmt.Printf("  %-12s %10.0f %9s %9s %9s %7d   %s\n", s.kind, sum.Rate(), load.Dur(sum.Pct(50)), load.Dur(sum.Pct(99)),
			load.Dur(sum.cpuPer()), sum.Errors, strings.Join(byRound, " "))
		if sum.FirstErr != nil {
			fmt.Printf("  %-12s first error: %v\n", "", sum.FirstErr)
		}
	}
	if b := slices.IndexFunc(servers, func(s *server) bool { return s.kind == "bare" }); b >= 0 {
		for i, s := range servers {
			if i == b {
				continue
			}
			c, b := sums[i], sums[b]
			fmt.Printf("  %-12s %9.2f× %8.2f× %8.2f× %8.2f×\n", ratioName(s.kind), c.Rate()/b.Rate(),
				ratio(c.Pct(50), b.Pct(50)), ratio(c.Pct(99), b.Pct(99)), ratio(c.cpuPer(), b.cpuPer()))
		}
	}
}

// ratioName labels the ratios of kind to the bare handler.
func ratioName(kind string) string {
	if kind == "continuity" {
		return "cont./bare"
	}
	return kind + "/bare"
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// A measurement is one measured stretch of load on one server.
type measurement struct {
	load.Stats
	cpu      time.Duration // the server's CPU time
	gcCPU    float64       // seconds of the server's CPU spent in GC (runtime estimate)
	totalCPU float64       // seconds of the server's CPU (runtime estimate)
}

func (m measurement) cpuPer() time.Duration {
	if m.Requests == 0 {
		return 0
	}
	return m.cpu / time.Duration(m.Requests)
}

func merge(ms []measurement) measurement {
	var sum measurement
	for _, m := range ms {
		sum.Add(m.Stats)
		sum.cpu += m.cpu
		sum.gcCPU += m.gcCPU
		sum.totalCPU += m.totalCPU
	}
	return sum
}

// A server is a child process serving one kind.
type server struct {
	kind     string
	p        *proc.Process
	stdin    io.WriteCloser
	addr     string // the counter
	debug    string // stats, GC and profiles
	browsers []load.Browser
}

// start runs this program again as a server of kind, and waits until it
// listens.
func start(kind string, maxSessions int, profileRates bool) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-serve", kind, "-max-sessions", strconv.Itoa(maxSessions)}
	if profileRates {
		args = append(args, "-profile-rates")
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	p, line, err := proc.StartLine(cmd, 30*time.Second)
	if p == nil {
		return nil, err
	}
	s := &server{kind: kind, p: p, stdin: stdin}
	f := strings.Fields(line)
	if err != nil || len(f) != 2 {
		s.stop()
		if err != nil {
			return nil, fmt.Errorf("%s server did not start: %w", kind, err)
		}
		return nil, fmt.Errorf("%s server did not start (said %q)", kind, line)
	}
	s.addr, s.debug = f[0], f[1]
	return s, nil
}

// stop ends the server: it exits when its stdin closes, and is killed if
// it has not within a few seconds.
func (s *server) stop() {
	s.stdin.Close()
	s.p.WaitOrKill(5 * time.Second)
}

var debugClient = &http.Client{Timeout: 2 * time.Minute}

func (s *server) call(path string, query url.Values) ([]byte, error) {
	u := "http://" + s.debug + path
	if query != nil {
		u += "?" + query.Encode()
	}
	resp, err := debugClient.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	return b, nil
}

func (s *server) stats() (stats, error) {
	var st stats
	b, err := s.call("/stats", nil)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// gc makes the server collect and return free memory to the OS.
func (s *server) gc() error {
	_, err := s.call("/gc", nil)
	return err
}

func (s *server) startCPUProfile(prefix string) error {
	_, err := s.call("/prof/start", url.Values{"file": {prefix + "-cpu.pprof"}})
	return err
}

// stopProfiles stops the CPU profile and writes the others.
func (s *server) stopProfiles(prefix string) error {
	errs := []error{}
	_, err := s.call("/prof/stop", nil)
	errs = append(errs, err)
	for _, p := range []string{"heap", "mutex", "block", "goroutine"} {
		_, err := s.call("/prof/write", url.Values{"name": {p}, "file": {prefix + "-" + p + ".pprof"}})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// prime makes sure the server has n browsers with sessions, creating the
// missing ones from a few keep-alive clients at once.
func (s *server) prime(n int) error {
	have := len(s.browsers)
	if have >= n {
		return nil
	}
	s.browsers = append(s.browsers, make([]load.Browser, n-have)...)
	var next atomic.Int64
	next.Store(int64(have))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	cl := load.NewClient(s.addr, agent, true, 0)
	for w := range errs {
		wg.Go(func() {
			var c *load.Conn
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				var err error
				c, s.browsers[i], err = cl.NewSession(c)
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// agent is the load generator's User-Agent.
const agent = "bench-counter"

// load runs n clients, each stepping its own session, for warmup and then
// for d measured. With prof set, the measured stretch is profiled into
// files starting with prof.
func (s *server) load(n int, keepAlive bool, warmup, d time.Duration, prof string) (measurement, error) {
	var m measurement
	if err := s.prime(n); err != nil {
		return m, fmt.Errorf("%s: starting sessions: %w", s.kind, err)
	}
	run := load.Start(load.NewClient(s.addr, agent, keepAlive, 0), s.browsers[:n])
	defer run.Close()
	time.Sleep(warmup)
	st0, err := s.stats()
	if err != nil {
		return m, err
	}
	if prof != "" {
		if err := s.startCPUProfile(prof); err != nil {
			return m, err
		}
	}
	cpu0, err := s.p.CPU()
	if err != nil {
		return m, err
	}
	run.Measure()
	time.Sleep(d)
	run.Stop()
	cpu1, err := s.p.CPU()
	if err != nil {
		return m, err
	}
	m.Stats = run.Wait()
	if prof != "" {
		if err := s.stopProfiles(prof); err != nil {
			return m, err
		}
	}
	st1, err := s.stats()
	if err != nil {
		return m, err
	}
	m.cpu = cpu1 - cpu0
	m.gcCPU, m.totalCPU = st1.GCCPU-st0.GCCPU, st1.TotalCPU-st0.TotalCPU
	return m, nil
}
