// Command nodes measures the counter example on several nodes of one
// deployment, as deploy/run.sh runs them: a redis-server, counter nodes
// (examples/counter with -redis, -node, -keys-file, -lease-ttl) and
// HAProxy with deploy/haproxy.cfg, each a process of its own on loopback.
//
// -mode takeover drives a browser's session through HAProxy to -steps
// steps, stops the node that holds it (HAProxy's SRV cookie names it),
// and times the next step answered through HAProxy, by another node that
// takes the session over from the Redis journal. With SIGKILL the node's
// lease must lapse first: that wait is what remained of the lease's TTL
// (renewed every TTL/3, so between 2/3 and all of it), and the run
// prints it apart from the work after it (load, replay, answer). With
// SIGTERM the node hands its sessions off and releases their leases as
// it shuts down: nothing is waited out. The killed node is started
// again before the next trial.
//
//	go run ./bench/nodes -mode takeover [-steps 10,100] [-trials 3] [-lease-ttl 2s] [-stop kill,term]
//
// -mode throughput runs -clients keep-alive clients (each a browser with
// its own session, and a new one every -session-steps steps: a journal
// keeps 1,000 entries, and a longer session runs on unjournaled) against
// the counter: through HAProxy with 1, 2 and 3
// Redis-journaled nodes, and for reference against one node directly
// (Redis journal, and in memory) and through HAProxy to the in-memory
// node, in alternating rounds of the same run. It prints requests per
// second, latency, and the CPU per request of the nodes, HAProxy, Redis
// and the load generator (utime+stime from /proc), and how busy the
// machine's CPUs were (/proc/stat): with every process on the same
// cores, more nodes add capacity only where cores are idle.
//
//	go run ./bench/nodes -mode throughput [-clients 50] [-session-steps 500] [-duration 2s] [-rounds 3]
//
// The default, -mode all, runs both. It needs go, redis-server and
// haproxy on PATH, runs from anywhere inside the module, and stops every
// process it started when it ends, fails, or gets SIGINT or SIGTERM.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/continuity-go/continuity/bench/internal/load"
	"github.com/continuity-go/continuity/bench/internal/proc"
)

// keysLine is the deployment's one signing key, shared by every node.
const keysLine = "6f1d0c5e9b7a4d2e8c3f1a0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e\n"

type config struct {
	mode       string
	steps      []int
	trials     int
	leaseTTL   time.Duration
	stops      []string
	clients    int
	perSession int
	duration   time.Duration
	warmup     time.Duration
	rounds     int
}

func main() {
	var cfg config
	var steps, stops string
	flag.StringVar(&cfg.mode, "mode", "all", "what to measure: takeover, throughput or all")
	flag.StringVar(&steps, "steps", "10,100", "takeover: steps the session has taken when its node stops")
	flag.IntVar(&cfg.trials, "trials", 3, "takeover: trials per steps and stop")
	flag.DurationVar(&cfg.leaseTTL, "lease-ttl", 2*time.Second, "takeover: the nodes' -lease-ttl (the examples' default is 15s)")
	flag.StringVar(&stops, "stop", "kill,term", "takeover: how the holding node stops: kill (SIGKILL, a crash) or term (SIGTERM, a drain)")
	flag.IntVar(&cfg.clients, "clients", 50, "throughput: concurrent keep-alive clients, each a browser with its own session")
	flag.IntVar(&cfg.perSession, "session-steps", 500, "throughput: steps per session; then the client starts a new one (a journal keeps 1,000 entries)")
	flag.DurationVar(&cfg.duration, "duration", 2*time.Second, "throughput: measured time per round")
	flag.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "throughput: unmeasured time before each round")
	flag.IntVar(&cfg.rounds, "rounds", 3, "throughput: rounds, the targets' order alternating")
	flag.Parse()
	for f := range strings.SplitSeq(steps, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 900 {
			fmt.Fprintf(os.Stderr, "nodes: bad -steps value %q (1 to 900: a journal holds 1,000 entries)\n", f)
			os.Exit(2)
		}
		cfg.steps = append(cfg.steps, n)
	}
	for s := range strings.SplitSeq(stops, ",") {
		if s != "kill" && s != "term" {
			fmt.Fprintf(os.Stderr, "nodes: bad -stop value %q (kill or term)\n", s)
			os.Exit(2)
		}
		cfg.stops = append(cfg.stops, s)
	}
	if cfg.perSession < 1 || cfg.perSession > 900 {
		fmt.Fprintf(os.Stderr, "nodes: bad -session-steps %d (1 to 900: a journal holds 1,000 entries)\n", cfg.perSession)
		os.Exit(2)
	}
	if cfg.mode != "takeover" && cfg.mode != "throughput" && cfg.mode != "all" {
		fmt.Fprintf(os.Stderr, "nodes: bad -mode %q (takeover, throughput or all)\n", cfg.mode)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodes:", err)
		os.Exit(1)
	}
}

// run builds the counter and measures what cfg asks; every process it
// starts is stopped before it returns.
func run(ctx context.Context, cfg config) (err error) {
	for _, bin := range []string{"go", "redis-server", "haproxy"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found on PATH (Debian: apt-get install redis-server haproxy)", bin)
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	d := &deployment{root: root}
	if d.dir, err = os.MkdirTemp("", "bench-nodes-"); err != nil {
		return err
	}
	defer func() {
		d.stopAll()
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "nodes: logs kept in %s\n", d.dir)
			return
		}
		os.RemoveAll(d.dir)
	}()
	fmt.Println("building examples/counter")
	d.counter = filepath.Join(d.dir, "counter")
	build := exec.CommandContext(ctx, "go", "build", "-o", d.counter, "./examples/counter")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	d.keys = filepath.Join(d.dir, "keys")
	if err := os.WriteFile(d.keys, []byte(keysLine), 0o600); err != nil {
		return err
	}
	if cfg.mode != "throughput" {
		if err := takeover(ctx, d, cfg); err != nil {
			return err
		}
	}
	if cfg.mode != "takeover" {
		if err := throughput(ctx, d, cfg); err != nil {
			return err
		}
	}
	return nil
}

// moduleRoot is the directory of the module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run inside the continuity module")
	}
	return filepath.Dir(gomod), nil
}

// ---- processes

// A child is a started process, its output in a log file.
type child struct {
	*proc.Process
	name, log string
}

// A deployment is the processes of one run, all stopped by stopAll.
type deployment struct {
	root, dir, counter, keys string

	mu    sync.Mutex
	procs []*child
}

// start starts name (a label for logs and errors) as bin args, with env
// added to this process's environment.
func (d *deployment) start(name string, env []string, bin string, args ...string) (*child, error) {
	log, err := os.Create(filepath.Join(d.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	pp, err := proc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &child{Process: pp, name: name, log: log.Name()}
	d.mu.Lock()
	d.procs = append(d.procs, p)
	d.mu.Unlock()
	return p, nil
}

// stop ends p: SIGTERM, then SIGKILL if it is still there after 10s.
func (p *child) stop() { p.Stop(10 * time.Second) }

// stopAll stops every process of the deployment, the last started first.
func (d *deployment) stopAll() {
	d.mu.Lock()
	procs := d.procs
	d.procs = nil
	d.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
}

// forget drops processes that have exited from the deployment's list.
func (d *deployment) forget() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.procs = slices.DeleteFunc(d.procs, (*child).Exited)
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitListening waits until something accepts connections on addr.
func waitListening(ctx context.Context, p *child, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited (see %s)", p.name, p.log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: nothing listens on %s after 30s (see %s)", p.name, addr, p.log)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// sleep waits d, or less if ctx is done first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startRedis starts a redis-server as deploy/run.sh does (append-only
// file, appendfsync everysec) and returns a client of it.
func (d *deployment) startRedis(ctx context.Context) (*child, string, *redis.Client, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := d.start("redis", nil, "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--dir", d.dir)
	if err != nil {
		return nil, "", nil, err
	}
	if err := waitListening(ctx, p, addr); err != nil {
		return nil, "", nil, err
	}
	url := "redis://" + addr + "/0"
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			break
		}
		if ctx.Err() != nil || p.Exited() {
			rdb.Close()
			return nil, "", nil, fmt.Errorf("redis: %w", err)
		}
		sleep(ctx, 20*time.Millisecond)
	}
	return p, url, rdb, nil
}

// A node is a counter process; it can be started again on its address.
type node struct {
	name, addr string
	args       []string
	p          *child
}

// startNode starts a counter node on a free port; with redisURL it is a
// node of the deployment (leaseTTL 0: the default TTL), else it keeps
// everything in memory.
func (d *deployment) startNode(ctx context.Context, name, redisURL string, leaseTTL time.Duration) (*node, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	n := &node{name: name, addr: addr, args: []string{"-addr", addr}}
	if redisURL != "" {
		n.args = append(n.args, "-redis", redisURL, "-node", name, "-keys-file", d.keys)
		if leaseTTL > 0 {
			n.args = append(n.args, "-lease-ttl", leaseTTL.String())
		}
	}
	return n, d.restart(ctx, n)
}

// restart starts n (again) and waits until it listens.
func (d *deployment) restart(ctx context.Context, n *node) error {
	p, err := d.start(n.name, nil, d.counter, n.args...)
	if err != nil {
		return err
	}
	n.p = p
	return waitListening(ctx, p, n.addr)
}

// serverLine is a server line of deploy/haproxy.cfg; its digit is the
// NODEn it names.
var serverLine = regexp.MustCompile(`^\s*server\s+n(\d)\s`)

// startHAProxy starts HAProxy with deploy/haproxy.cfg in front of nodes,
// keeping only the config's first len(nodes) server lines.
func (d *deployment) startHAProxy(ctx context.Context, name string, nodes ...*node) (*child, string, error) {
	cfg, err := os.ReadFile(filepath.Join(d.root, "deploy", "haproxy.cfg"))
	if err != nil {
		return nil, "", err
	}
	var out bytes.Buffer
	servers := 0
	for line := range strings.Lines(string(cfg)) {
		if m := serverLine.FindStringSubmatch(line); m != nil {
			if i, _ := strconv.Atoi(m[1]); i > len(nodes) {
				continue
			}
			servers++
		}
		out.WriteString(line)
	}
	if servers != len(nodes) {
		return nil, "", fmt.Errorf("deploy/haproxy.cfg has %d server lines for %d nodes", servers, len(nodes))
	}
	path := filepath.Join(d.dir, name+".cfg")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		return nil, "", err
	}
	lb, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	env := []string{"LB_ADDR=" + lb}
	for i, n := range nodes {
		env = append(env, fmt.Sprintf("NODE%d=%s", i+1, n.addr))
	}
	p, err := d.start(name, env, "haproxy", "-db", "-f", path)
	if err != nil {
		return nil, "", err
	}
	return p, lb, waitListening(ctx, p, lb)
}

// ---- takeover

// trial is one measured takeover.
type trial struct {
	total     time.Duration // next request sent → answered
	leaseLeft time.Duration // the killed node's lease's PTTL just before the kill
	acquired  time.Duration // next request sent → the new owner's lease seen in Redis
	holder    string        // the node stopped
	next      string        // the node that took over
}

// after is the work after the lease was taken: load, replay, answer.
func (t trial) after() time.Duration { return t.total - t.acquired }

func takeover(ctx context.Context, d *deployment, cfg config) error {
	_, redisURL, rdb, err := d.startRedis(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	// Keyspace events of string and generic commands (set, del, expire),
	// to time the takeovers' lease acquisitions.
	if err := rdb.ConfigSet(ctx, "notify-keyspace-events", "K$g").Err(); err != nil {
		return err
	}
	nodes := map[string]*node{}
	var list []*node
	for i := 1; i <= 3; i++ {
		n, err := d.startNode(ctx, fmt.Sprintf("n%d", i), redisURL, cfg.leaseTTL)
		if err != nil {
			return err
		}
		nodes[n.name] = n
		list = append(list, n)
	}
	_, lb, err := d.startHAProxy(ctx, "haproxy", list...)
	if err != nil {
		return err
	}
	fmt.Printf("\ntakeover: 3 counter nodes behind HAProxy (deploy/haproxy.cfg), lease TTL %v (renewed every %v), acquire poll 50ms\n",
		cfg.leaseTTL, dur(cfg.leaseTTL/3))
	fmt.Printf("  %5s  %-7s %9s %12s %12s %12s   %s\n", "steps", "stop", "total", "lease left", "lease taken", "then answer", "trials (total)")
	for _, steps := range cfg.steps {
		for _, how := range cfg.stops {
			var ts []trial
			for range cfg.trials {
				t, err := takeoverTrial(ctx, d, rdb, lb, nodes, steps, how, cfg.leaseTTL)
				if err != nil {
					return err
				}
				ts = append(ts, t)
			}
			var tot []string
			for _, t := range ts {
				tot = append(tot, dur(t.total))
			}
			med := func(f func(trial) time.Duration) string {
				v := make([]time.Duration, len(ts))
				for i, t := range ts {
					v[i] = f(t)
				}
				slices.Sort(v)
				return dur(v[len(v)/2])
			}
			left := med(func(t trial) time.Duration { return t.leaseLeft })
			if how == "term" {
				left = "released"
			}
			fmt.Printf("  %5d  %-7s %9s %12s %12s %12s   %s\n", steps, stopName(how),
				med(func(t trial) time.Duration { return t.total }), left,
				med(func(t trial) time.Duration { return t.acquired }), med(trial.after), strings.Join(tot, " "))
		}
	}
	fmt.Println("  (medians; total = next request sent through HAProxy → answered with the next step by another node;")
	fmt.Println("   lease left = the stopped node's lease's PTTL at the kill; lease taken = request sent → new owner's lease in Redis;")
	fmt.Println("   then answer = the rest: load the journal again, replay, answer through HAProxy)")
	return nil
}

func stopName(how string) string {
	if how == "kill" {
		return "SIGKILL"
	}
	return "SIGTERM"
}

// leaseKeys are the session lease keys in Redis, with their tokens.
func leaseKeys(ctx context.Context, rdb *redis.Client) (map[string]string, error) {
	keys, err := rdb.Keys(ctx, "continuity:journal:*:lease").Result()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, k := range keys {
		if v, err := rdb.Get(ctx, k).Result(); err == nil {
			m[k] = v
		}
	}
	return m, nil
}

// takeoverTrial drives a new browser to steps, stops its node as how
// says, and times the next step.
func takeoverTrial(ctx context.Context, d *deployment, rdb *redis.Client, lb string, nodes map[string]*node, steps int, how string, ttl time.Duration) (trial, error) {
	var t trial
	before, err := leaseKeys(ctx, rdb)
	if err != nil {
		return t, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return t, err
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Jar: jar, Transport: tr, Timeout: 2*ttl + 20*time.Second}
	u := "http://" + lb + "/"
	for i := 1; i <= steps; i++ {
		if err := wantCount(ctx, c, u, i); err != nil {
			return t, err
		}
	}
	lbURL, _ := url.Parse(u)
	srv := func() string {
		for _, ck := range jar.Cookies(lbURL) {
			if ck.Name == "SRV" {
				return ck.Value
			}
		}
		return ""
	}
	t.holder = srv()
	holder := nodes[t.holder]
	if holder == nil {
		return t, fmt.Errorf("SRV cookie %q names no node", t.holder)
	}
	after, err := leaseKeys(ctx, rdb)
	if err != nil {
		return t, err
	}
	var key string
	for k, v := range after {
		if _, old := before[k]; !old && strings.HasSuffix(v, "/"+t.holder) {
			if key != "" {
				return t, errors.New("two new leases of the holder in Redis")
			}
			key = k
		}
	}
	if key == "" {
		return t, fmt.Errorf("no lease of node %s in Redis", t.holder)
	}

	// Redis tells when the next owner sets the lease: a keyspace
	// notification, on the subscriber's connection, as it happens.
	ps := rdb.Subscribe(ctx, "__keyspace@0__:"+key)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return t, err
	}
	events := ps.Channel()

	if how == "kill" {
		if t.leaseLeft, err = rdb.PTTL(ctx, key).Result(); err != nil {
			return t, err
		}
		holder.p.Kill()
	} else {
		holder.p.stop()
		if v, err := rdb.Get(ctx, key).Result(); !errors.Is(err, redis.Nil) {
			return t, fmt.Errorf("SIGTERM: the lease is still there (%q, %v)", v, err)
		}
	}
	d.forget()

	taken := make(chan time.Time, 1)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for e := range events { // until ps.Close
			if e.Payload == "set" {
				taken <- time.Now()
				return
			}
		}
	}()
	start := time.Now()
	err = wantCount(ctx, c, u, steps+1)
	t.total = time.Since(start)
	select {
	case at := <-taken:
		t.acquired = at.Sub(start)
	case <-time.After(time.Second):
		if err == nil {
			err = errors.New("Redis reported no new lease")
		}
	}
	ps.Close()
	<-watched
	if err != nil {
		return t, fmt.Errorf("after %s of node %s at step %d: %w", stopName(how), t.holder, steps, err)
	}
	if t.next = srv(); t.next == t.holder || nodes[t.next] == nil {
		return t, fmt.Errorf("answered by %q after node %s stopped", t.next, t.holder)
	}
	// Start the node again, and give HAProxy's health checks (inter
	// 500ms, rise 2) time to see it.
	if err := d.restart(ctx, holder); err != nil {
		return t, err
	}
	return t, sleep(ctx, 1500*time.Millisecond)
}

var countRE = regexp.MustCompile(`<span id="count">(\d+)</span>`)

// wantCount asks for the counter page and checks that it shows n.
func wantCount(ctx context.Context, c *http.Client, u string, n int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	m := countRE.FindSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil || string(m[1]) != strconv.Itoa(n) {
		return fmt.Errorf("want count %d, got %d %.200q", n, res.StatusCode, body)
	}
	return nil
}

// ---- throughput

// A target is what the clients of a throughput round talk to.
type target struct {
	name     string
	addr     string
	browsers []load.Browser
	results  []measurement
}

func throughput(ctx context.Context, d *deployment, cfg config) error {
	redisProc, redisURL, rdb, err := d.startRedis(ctx)
	if err != nil {
		return err
	}
	rdb.Close()
	var nodes []*node
	for i := 1; i <= 3; i++ {
		n, err := d.startNode(ctx, fmt.Sprintf("n%d", i), redisURL, 0)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	mem, err := d.startNode(ctx, "memory", "", 0)
	if err != nil {
		return err
	}
	var lbs []*child
	lb := func(name string, ns ...*node) (string, error) {
		p, addr, err := d.startHAProxy(ctx, name, ns...)
		if p != nil {
			lbs = append(lbs, p)
		}
		return addr, err
	}
	targets := []*target{
		{name: "memory, direct", addr: mem.addr},
		{name: "redis, direct", addr: nodes[0].addr},
	}
	for _, t := range []struct {
		name string
		ns   []*node
	}{
		{"memory, HAProxy, 1 node", []*node{mem}},
		{"redis, HAProxy, 1 node", nodes[:1]},
		{"redis, HAProxy, 2 nodes", nodes[:2]},
		{"redis, HAProxy, 3 nodes", nodes},
	} {
		addr, err := lb(fmt.Sprintf("haproxy-%d", len(lbs)+1), t.ns...)
		if err != nil {
			return err
		}
		targets = append(targets, &target{name: t.name, addr: addr})
	}
	// Let HAProxy's first health checks pass before measuring.
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	procs := map[string][]*child{"redis": {redisProc}, "haproxy": lbs}
	for _, n := range append(nodes, mem) {
		procs["nodes"] = append(procs["nodes"], n.p)
	}

	fmt.Printf("\nthroughput: the counter, %d keep-alive clients (each its own session, a new one every %d steps), %d rounds of %v warm-up + %v, targets alternating; %d CPUs\n",
		cfg.clients, cfg.perSession, cfg.rounds, cfg.warmup, cfg.duration, runtime.NumCPU())
	for round := range cfg.rounds {
		order := slices.Clone(targets)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range order {
			m, err := t.load(ctx, cfg.clients, cfg.perSession, cfg.warmup, cfg.duration, procs)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			t.results = append(t.results, m)
		}
	}
	fmt.Printf("  %-26s %8s %8s %8s %6s   %-38s %5s %6s\n", "", "", "", "", "", "CPU per request answered", "", "")
	fmt.Printf("  %-26s %8s %8s %8s %6s   %6s %7s %6s %6s %7s   %5s %6s   %s\n", "target", "req/s", "p50", "p99", "errors",
		"nodes", "HAProxy", "Redis", "client", "sum", "busy", "others", "req/s by round")
	for _, t := range targets {
		s := merge(t.results)
		var byRound []string
		for _, m := range t.results {
			byRound = append(byRound, fmt.Sprintf("%.0f", m.Rate()))
		}
		var ours time.Duration
		for _, c := range s.cpu {
			ours += c
		}
		machine := s.Elapsed.Seconds() * float64(s.cpus) / 100 // CPU-seconds per percent
		fmt.Printf("  %-26s %8.0f %8s %8s %6d   %6s %7s %6s %6s %7s   %4.0f%% %5.0f%%   %s\n", t.name, s.Rate(), dur(s.Pct(50)), dur(s.Pct(99)), s.Errors,
			dur(s.cpuPer("nodes")), dur(s.cpuPer("haproxy")), dur(s.cpuPer("redis")), dur(s.cpuPer("client")), dur(ours/time.Duration(max(s.Requests, 1))),
			s.busy/machine, max(s.busy-ours.Seconds(), 0)/machine, strings.Join(byRound, " "))
		if s.FirstErr != nil {
			fmt.Printf("  %-26s first error: %v\n", "", s.FirstErr)
		}
	}
	fmt.Println("  (CPU: utime+stime of the processes over the measured stretch per request answered: all counter nodes,")
	fmt.Println("   all HAProxy processes, redis-server, this program, and their sum; busy: the machine's CPUs, from /proc/stat;")
	fmt.Println("   others: the part of busy not spent in these processes: the kernel's own work, and any other jobs)")
	return nil
}

// A measurement is one measured stretch of load on one target.
type measurement struct {
	load.Stats
	cpu  map[string]time.Duration // by group: nodes, haproxy, redis, client
	busy float64                  // CPU-seconds the machine was busy
	cpus int
}

func (m measurement) cpuPer(group string) time.Duration {
	if m.Requests == 0 {
		return 0
	}
	return m.cpu[group] / time.Duration(m.Requests)
}

func merge(ms []measurement) measurement {
	sum := measurement{cpu: map[string]time.Duration{}}
	for _, m := range ms {
		sum.Add(m.Stats)
		for g, c := range m.cpu {
			sum.cpu[g] += c
		}
		sum.busy += m.busy
		sum.cpus = m.cpus
	}
	return sum
}

// cpuSample is the CPU time of each group of processes, and the machine's.
type cpuSample struct {
	groups      map[string]time.Duration
	busy, total float64 // seconds, summed over the CPUs
	cpus        int
}

func sampleCPU(procs map[string][]*child) (cpuSample, error) {
	s := cpuSample{groups: map[string]time.Duration{}}
	for g, ps := range procs {
		for _, p := range ps {
			c, err := p.CPU()
			if err != nil {
				return s, fmt.Errorf("%s: %w", p.name, err)
			}
			s.groups[g] += c
		}
	}
	c, err := proc.CPU(os.Getpid())
	if err != nil {
		return s, err
	}
	s.groups["client"] = c
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(f) > 4 && f[0] == "cpu":
			for i, v := range f[1:] {
				n, _ := strconv.ParseFloat(v, 64)
				if i >= 8 { // guest times are counted in user already
					break
				}
				s.total += n / proc.ClockTicks
				if i != 3 && i != 4 { // idle, iowait
					s.busy += n / proc.ClockTicks
				}
			}
		case strings.HasPrefix(f[0], "cpu"):
			s.cpus++
		}
	}
	return s, nil
}

// load runs n clients, each stepping its own session on t, for warmup
// and then for d measured; each session takes perSession steps, then
// its client starts another.
func (t *target) load(ctx context.Context, n, perSession int, warmup, d time.Duration, procs map[string][]*child) (measurement, error) {
	m := measurement{cpu: map[string]time.Duration{}}
	cl := load.NewClient(t.addr, "bench-nodes", true, perSession)
	for len(t.browsers) < n {
		c, b, err := cl.NewSession(nil)
		if c != nil {
			c.Close()
		}
		if err != nil {
			return m, fmt.Errorf("starting a session: %w", err)
		}
		t.browsers = append(t.browsers, b)
	}
	run := load.Start(cl, t.browsers[:n])
	defer run.Close()
	defer context.AfterFunc(ctx, run.Stop)()
	if err := sleep(ctx, warmup); err != nil {
		return m, err
	}
	s0, err := sampleCPU(procs)
	if err != nil {
		return m, err
	}
	run.Measure()
	if err := sleep(ctx, d); err != nil {
		return m, err
	}
	run.Stop()
	s1, err := sampleCPU(procs)
	if err != nil {
		return m, err
	}
	m.Stats = run.Wait()
	for g, c := range s1.groups {
		m.cpu[g] = c - s0.groups[g]
	}
	m.busy, m.cpus = s1.busy-s0.busy, s1.cpus
	return m, nil
}

// dur prints a duration with three significant digits, or from a
// second on, in seconds with three decimals (the takeovers' waits).
func dur(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
	return load.Dur(d)
}
