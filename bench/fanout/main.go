// Command fanout measures the chat example's push fan-out on loopback: N
// concurrent long-poll receivers (each its own browser, so its own
// session), then one message. It reports the time from the POST until
// every receiver has the message, and the chat server's memory per
// waiting receiver (its resident set growth while they wait, divided by
// N). The server is the real examples/chat program, in a process of its
// own, so the client's memory is not counted; they share the machine's
// CPUs, though.
//
//	go run ./bench/fanout [-n 10000] [-runs 5] [-chat PATH]
//
// It raises its open-file limit to the hard limit (the server inherits
// it); N receivers need N descriptors in each process.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/bench/internal/proc"
)

func main() {
	n := flag.Int("n", 10000, "concurrent long-poll receivers")
	runs := flag.Int("runs", 5, "runs, each with a fresh server")
	chat := flag.String("chat", "", "chat server binary (default: go build ./examples/chat)")
	bare := flag.Bool("bare", false, "measure a bare net/http long-poll handler on a Topic instead, as a baseline")
	serveBare := flag.Bool("serve-bare", false, "(internal) be the bare server")
	flag.Parse()
	if *serveBare {
		if err := runBare(); err != nil {
			fmt.Fprintln(os.Stderr, "fanout:", err)
			os.Exit(1)
		}
		return
	}
	if *bare {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "fanout:", err)
			os.Exit(1)
		}
		serverCmd = func(int) *exec.Cmd { return exec.Command(self, "-serve-bare") }
		*chat = self
	}
	if err := run(*n, *runs, *chat); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

// result is one run's measurements.
type result struct {
	all      time.Duration // until every receiver had the message
	median   time.Duration // the median receiver's latency
	rssPer   float64       // server RSS growth per waiting receiver, bytes
	setup    time.Duration // connecting and parking the receivers
	received int
}

func run(n, runs int, chat string) error {
	limit, err := proc.RaiseFileLimit()
	if err != nil {
		return err
	}
	if limit < uint64(n)+100 {
		return fmt.Errorf("open-file limit is %d; %d receivers need more (raise the hard limit)", limit, n)
	}
	if chat == "" {
		dir, err := os.MkdirTemp("", "fanout")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		chat = filepath.Join(dir, "chat")
		out, err := exec.Command("go", "build", "-o", chat, "github.com/continuity-go/continuity/examples/chat").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build ./examples/chat: %v\n%s", err, out)
		}
	}
	what := "examples/chat"
	if serverCmd(n) != nil {
		what = "a bare net/http handler on a Topic (baseline)"
	}
	fmt.Printf("fan-out to %s: %d long-poll receivers, 1 message, %d runs; GOMAXPROCS %d, %d CPUs, %s/%s, %s\n",
		what, n, runs, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	var results []result
	for i := 1; i <= runs; i++ {
		r, err := once(chat, n)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		fmt.Printf("run %d: all %d received in %v (median receiver %v); server RSS +%.1f KiB per waiting receiver; setup %v; load average %s\n",
			i, r.received, r.all.Round(time.Millisecond), r.median.Round(time.Millisecond), r.rssPer/1024, r.setup.Round(time.Millisecond), loadAverage())
		results = append(results, r)
	}
	alls := make([]time.Duration, len(results))
	pers := make([]float64, len(results))
	for i, r := range results {
		alls[i], pers[i] = r.all, r.rssPer
	}
	slices.Sort(alls)
	slices.Sort(pers)
	fmt.Printf("time until every receiver has the message: median %v, max %v over %d runs\n",
		alls[len(alls)/2].Round(time.Millisecond), alls[len(alls)-1].Round(time.Millisecond), len(alls))
	fmt.Printf("server memory per waiting receiver: median %.1f KiB (RSS growth / %d)\n", pers[len(pers)/2]/1024, n)
	return nil
}

// once starts a chat server, parks n receivers in long polls, posts one
// message and times its arrival everywhere.
func once(chat string, n int) (result, error) {
	var res result
	srv, base, err := startServer(chat, n)
	if err != nil {
		return res, err
	}
	defer srv.Stop(20 * time.Second) // SIGTERM: graceful

	// Dial gently: a burst of n SYNs overflows the listen backlog.
	dials := make(chan struct{}, 256)
	dialer := &net.Dialer{}
	tr := &http.Transport{
		MaxIdleConnsPerHost: n + 10,
		DisableCompression:  true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials <- struct{}{}
			defer func() { <-dials }()
			return dialer.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()

	// A first request makes the server touch its lazy paths, so that the
	// baseline is not flattered.
	if _, err := get(&http.Client{Transport: tr}, base+"/"); err != nil {
		return res, err
	}
	time.Sleep(200 * time.Millisecond)
	rss0, err := srv.RSS()
	if err != nil {
		return res, err
	}

	setup := time.Now()
	var sent, bad atomic.Int64
	var t0 atomic.Int64 // unix nanos of the post
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for i := range n {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Transport: tr, Jar: jar}
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, base+"/receive?since=0", nil)
			req.Header.Set("Accept", "application/json")
			req = req.WithContext(withWrote(req.Context(), &sent))
			resp, err := c.Do(req)
			if err != nil {
				select {
				case errs <- err:
				default:
				}
				bad.Add(1)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat[i] = time.Since(time.Unix(0, t0.Load()))
			var a struct {
				Messages []struct {
					ID      uint64
					Message string
				}
			}
			if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil ||
				len(a.Messages) != 1 || a.Messages[0].ID != 1 || a.Messages[0].Message != "fan-out" {
				bad.Add(1)
				select {
				case errs <- fmt.Errorf("receiver %d: %s %q", i, resp.Status, body):
				default:
				}
			}
		})
	}
	// Wait until every request is on the wire and the server has gone
	// quiet: every receiver's session is parked in its long poll.
	for sent.Load()+bad.Load() < int64(n) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := waitIdle(srv, 30*time.Second); err != nil {
		return res, err
	}
	res.setup = time.Since(setup)
	rss1, err := srv.RSS()
	if err != nil {
		return res, err
	}
	res.rssPer = float64(rss1-rss0) / float64(n)

	t0.Store(time.Now().UnixNano())
	form := url.Values{"name": {"bench"}, "message": {"fan-out"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/send", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Transport: tr, Jar: jar}).Do(req)
	if err != nil {
		return res, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("POST send: %s", resp.Status)
	}
	wg.Wait()
	if b := bad.Load(); b > 0 {
		return res, fmt.Errorf("%d receivers failed, e.g. %v", b, <-errs)
	}
	slices.Sort(lat)
	res.all, res.median, res.received = lat[n-1], lat[n/2], n
	return res, nil
}

func get(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

// serverCmd is the command that runs the server under test.
var serverCmd = func(n int) *exec.Cmd { return nil }

// startServer starts the server under test: the chat at chat, or what
// serverCmd returns.
func startServer(chat string, n int) (*proc.Process, string, error) {
	cmd := serverCmd(n)
	if cmd == nil {
		cmd = exec.Command(chat, "-addr", "127.0.0.1:0", "-wait", "5m", "-idle", "30m",
			"-max-sessions", strconv.Itoa(n+100))
	}
	// Its log (a line per session at shutdown) is kept for errors only.
	log := &tail{max: 4 << 10}
	cmd.Stderr = log
	return proc.StartListening(cmd, "chat server", log.String)
}

// waitIdle waits until the server has used at most one clock tick of CPU
// in each of three 100ms windows in a row.
func waitIdle(srv *proc.Process, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	prev, err := srv.CPU()
	quiet := 0
	for err == nil && quiet < 3 {
		if time.Now().After(deadline) {
			return errors.New("the server never went quiet")
		}
		time.Sleep(100 * time.Millisecond)
		var now time.Duration
		now, err = srv.CPU()
		if now-prev <= time.Second/proc.ClockTicks {
			quiet++
		} else {
			quiet = 0
		}
		prev = now
	}
	return err
}

// withWrote counts, in n, the requests made with the returned context once
// they are written to the connection.
func withWrote(ctx context.Context, n *atomic.Int64) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { n.Add(1) },
	})
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// runBare serves GET /receive?since=N and POST /send as the chat does, but
// with plain net/http handlers and no sessions: the baseline for what
// continuity's sessions cost per waiting receiver.
func runBare() error {
	topic := continuity.NewTopic[[]byte](0)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bare") })
	mux.HandleFunc("GET /receive", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseUint(r.FormValue("since"), 10, 64)
		evs, _, _ := topic.Wait(r.Context(), since, 5*time.Minute)
		w.Header().Set("Content-Type", "application/json")
		b := []byte(`{"messages":[`)
		for i, ev := range evs {
			if i > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `{"id":%d,%s`, ev.Version, ev.Value)
		}
		w.Write(append(b, "]}"...))
	})
	mux.HandleFunc("POST /send", func(w http.ResponseWriter, r *http.Request) {
		msg, _ := json.Marshal(r.FormValue("message"))
		name, _ := json.Marshal(r.FormValue("name"))
		id := topic.Publish(fmt.Appendf(nil, `"name":%s,"message":%s,"time":%q}`, name, msg, time.Now().UTC().Format(time.RFC3339)))
		fmt.Fprintf(w, `{"id":%d}`, id)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening on http://%s/\n", l.Addr())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() { <-stop; hs.Close() }()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadAverage is the machine's 1-minute load average: other work on the
// machine shows in the timings, so each run reports it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
