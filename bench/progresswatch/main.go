// Command progresswatch measures the progress status endpoint under many
// watchers: N concurrent long-polls (or Server-Sent Events streams) on one
// meter of one session, over loopback. For each of several updates it
// reports the time from the update (taken in the server just before
// Meter.Inc) to each watcher receiving it, the last one included, and it
// reports the server's memory per waiting watcher. The server lifts its
// cap on one session's watchers (progress.Options.MaxWatchers, default
// 16) to N, which a real deployment would not.
//
//	go run ./bench/progresswatch -watchers 10000 -mode longpoll
//	go run ./bench/progresswatch -watchers 10000 -mode sse
//
// The server runs in a child process (the same binary), so that the
// clients' memory and CPU do not count as the server's; both raise their
// open-file limit to the hard limit. Times come from the wall clock of one
// machine, shared by both processes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/bench/internal/proc"
	"github.com/continuity-go/continuity/progress"
)

const serverEnv = "PROGRESSWATCH_SERVER"

func main() {
	proc.RaiseFileLimit() // at worst, fewer watchers can connect
	if v := os.Getenv(serverEnv); v != "" {
		if p := os.Getenv("PROGRESSWATCH_CPUPROFILE"); p != "" {
			f, err := os.Create(p)
			if err == nil {
				pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
		}
		watchers, _ := strconv.Atoi(v) // the one session's watchers, all allowed
		if err := serve(watchers); err != nil {
			fmt.Fprintln(os.Stderr, "progresswatch server:", err)
			os.Exit(1)
		}
		return
	}
	watchers := flag.Int("watchers", 10000, "concurrent watchers of the one meter")
	mode := flag.String("mode", "longpoll", "transport: longpoll or sse")
	updates := flag.Int("updates", 5, "updates to measure")
	dialers := flag.Int("dialers", 200, "connections opened at once while setting up")
	flag.Parse()
	if *mode != "longpoll" && *mode != "sse" {
		fmt.Fprintln(os.Stderr, "progresswatch: -mode must be longpoll or sse")
		os.Exit(2)
	}
	if err := drive(*watchers, *mode, *updates, *dialers); err != nil {
		fmt.Fprintln(os.Stderr, "progresswatch:", err)
		os.Exit(1)
	}
}

// --- server (child process) ---

// serve runs a continuity server whose app, on /start, starts the meter
// "work" and then advances it once per /bench/bump, answering each bump
// with the wall-clock time just before the update.
func serve(watchers int) error {
	bumps := make(chan chan int64)
	store := progress.NewMemoryStore(progress.MemoryOptions{})
	app := func(r *continuity.Request) {
		for {
			if r.Path() == "/start" {
				m, err := progress.Start(r, "work", progress.Total(1_000_000))
				if err != nil {
					r.SetStatus(http.StatusConflict)
				} else {
					r.Print("started\n")
					r.Flush()
					for done := false; !done; {
						select {
						case reply := <-bumps:
							t := time.Now().UnixNano()
							m.Inc()
							reply <- t
						case <-r.Context().Done():
							done = true
						}
					}
					m.Done()
				}
			}
			r.Next()
		}
	}
	srv, err := continuity.New(app, &continuity.Options{
		Progress: progress.Options{Store: store, MaxWait: 10 * time.Minute, KeepAlive: 10 * time.Minute, MaxWatchers: watchers},
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	mux.HandleFunc("/bench/bump", func(w http.ResponseWriter, r *http.Request) {
		reply := make(chan int64, 1)
		bumps <- reply
		fmt.Fprint(w, <-reply)
	})
	mux.HandleFunc("/bench/stats", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("gc") {
			runtime.GC()
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		json.NewEncoder(w).Encode(stats{
			Waiting:    store.Waiting(),
			Goroutines: runtime.NumGoroutine(),
			HeapInuse:  ms.HeapInuse,
			StackInuse: ms.StackInuse,
			Sys:        ms.Sys,
			RSS:        rss(),
		})
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(l.Addr().String())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}
	go func() {
		// The parent closes our stdin when it is done.
		io.Copy(io.Discard, os.Stdin)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	}()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type stats struct {
	Waiting    int
	Goroutines int
	HeapInuse  uint64
	StackInuse uint64
	Sys        uint64
	RSS        uint64
}

// rss is the resident set size from /proc, or 0.
func rss() uint64 {
	n, _ := proc.RSS(os.Getpid())
	return uint64(n)
}

// --- driver (parent process) ---

func drive(n int, mode string, updates, dialers int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), serverEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("server did not start: %w", err)
	}
	addr = strings.TrimSpace(addr)
	base := "http://" + addr

	// The session: start the meter and keep the start request open.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(base + "/start")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	var cookie string
	for _, ck := range resp.Cookies() {
		cookie = ck.Name + "=" + ck.Value
	}
	if cookie == "" {
		return errors.New("start: no session cookie")
	}
	ctl := &http.Client{}
	before, err := getStats(ctl, base, true)
	if err != nil {
		return err
	}

	fmt.Printf("progresswatch: %d %s watchers of one meter, %d updates, GOMAXPROCS %d, %d CPUs\n",
		n, mode, updates, runtime.GOMAXPROCS(0), runtime.NumCPU())
	ws := make([]*watcher, n)
	setupStart := time.Now()
	sem := make(chan struct{}, dialers)
	var wg sync.WaitGroup
	var dialErr error
	var dialMu sync.Mutex
	for i := range ws {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			w, err := dial(addr, cookie, mode)
			if err != nil {
				dialMu.Lock()
				dialErr = err
				dialMu.Unlock()
				return
			}
			ws[i] = w
		})
	}
	wg.Wait()
	if dialErr != nil {
		return fmt.Errorf("connecting watchers: %w", dialErr)
	}
	defer func() {
		for _, w := range ws {
			w.conn.Close()
		}
	}()

	count := 0
	var results []result
	for u := 1; u <= updates; u++ {
		// Every watcher waits for the next count.
		for _, w := range ws {
			w.arm(count)
		}
		if err := waitFor(ctl, base, n); err != nil {
			return err
		}
		if u == 1 {
			after, err := getStats(ctl, base, true)
			if err != nil {
				return err
			}
			fmt.Printf("setup: %d watchers waiting after %v\n", n, time.Since(setupStart).Round(time.Millisecond))
			per := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(n) / 1024 }
			fmt.Printf("server memory per waiting watcher: heap %.1f KiB + stacks %.1f KiB = %.1f KiB (RSS %.1f KiB; %d goroutines for %d watchers)\n",
				per(after.HeapInuse, before.HeapInuse), per(after.StackInuse, before.StackInuse),
				per(after.HeapInuse+after.StackInuse, before.HeapInuse+before.StackInuse),
				per(after.RSS, before.RSS), after.Goroutines-before.Goroutines, n)
		}
		resp, err := ctl.Get(base + "/bench/bump")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t0, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("bump: %q", b)
		}
		count++
		lat := make([]time.Duration, 0, n)
		deadline := time.After(2 * time.Minute)
		for _, w := range ws {
			select {
			case r := <-w.got:
				if r.err != nil {
					return fmt.Errorf("watcher: %w", r.err)
				}
				if r.count != count {
					return fmt.Errorf("watcher got count %d, want %d", r.count, count)
				}
				lat = append(lat, time.Duration(r.at-t0))
			case <-deadline:
				return fmt.Errorf("update %d: only %d of %d watchers received it", u, len(lat), n)
			}
		}
		slices.Sort(lat)
		res := result{
			first: lat[0], p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], last: lat[len(lat)-1],
		}
		results = append(results, res)
		fmt.Printf("update %d: first %v, median %v, p99 %v, last %v\n", u,
			res.first.Round(time.Microsecond), res.p50.Round(time.Microsecond),
			res.p99.Round(time.Microsecond), res.last.Round(time.Microsecond))
	}
	lasts := make([]time.Duration, len(results))
	for i, r := range results {
		lasts[i] = r.last
	}
	slices.Sort(lasts)
	fmt.Printf("update to last watcher: median %v over %d updates (best %v, worst %v)\n",
		lasts[len(lasts)/2].Round(time.Microsecond), len(lasts),
		lasts[0].Round(time.Microsecond), lasts[len(lasts)-1].Round(time.Microsecond))
	return nil
}

type result struct{ first, p50, p99, last time.Duration }

func getStats(c *http.Client, base string, gc bool) (stats, error) {
	u := base + "/bench/stats"
	if gc {
		u += "?gc=1"
	}
	var s stats
	resp, err := c.Get(u)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// waitFor waits until n watchers wait in the server's store.
func waitFor(c *http.Client, base string, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s, err := getStats(c, base, false)
		if err != nil {
			return err
		}
		if s.Waiting >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d watchers waiting", s.Waiting, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A watcher is one client connection: a keep-alive connection that sends
// a long-poll per update, or one event stream.
type watcher struct {
	conn   net.Conn
	br     *bufio.Reader
	mode   string
	cookie string
	got    chan got
	next   chan int
}

type got struct {
	count int
	at    int64
	err   error
}

func dial(addr, cookie, mode string) (*watcher, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	w := &watcher{conn: conn, br: bufio.NewReaderSize(conn, 4096), mode: mode, cookie: cookie,
		got: make(chan got, 1), next: make(chan int, 1)}
	if mode == "sse" {
		if err := w.openStream(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	go w.run()
	return w, nil
}

// arm tells the watcher to wait for the update after count.
func (w *watcher) arm(count int) { w.next <- count }

func (w *watcher) run() {
	for since := range w.next {
		var g got
		if w.mode == "sse" {
			g = w.nextEvent(since)
		} else {
			g = w.poll(since)
		}
		w.got <- g
		if g.err != nil {
			return
		}
	}
}

func (w *watcher) poll(since int) got {
	fmt.Fprintf(w.conn, "GET /_progress_status/work?since=%d&wait=600 HTTP/1.1\r\nHost: bench\r\nCookie: %s\r\n\r\n", since, w.cookie)
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return got{err: err}
	}
	var m struct{ Count int }
	err = json.NewDecoder(resp.Body).Decode(&m)
	at := time.Now().UnixNano()
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return got{count: m.Count, at: at, err: err}
}

// openStream sends the event-stream request and reads the head and the
// first event (the current state).
func (w *watcher) openStream() error {
	fmt.Fprintf(w.conn, "GET /_progress_status/work HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\nCookie: %s\r\n\r\n", w.cookie)
	for {
		line, err := w.br.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "data: ") {
			return nil
		}
	}
}

// nextEvent reads the stream (chunked; the chunk-size lines are skipped
// as they do not start with "data: ") until an event with a count other
// than since.
func (w *watcher) nextEvent(since int) got {
	for {
		line, err := w.br.ReadString('\n')
		if err != nil {
			return got{err: err}
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		at := time.Now().UnixNano()
		var m struct{ Count int }
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			return got{err: err}
		}
		if m.Count != since {
			return got{count: m.Count, at: at}
		}
	}
}
