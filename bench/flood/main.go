// Command flood attacks the shipped examples the way issue 9 did, one
// attack at a time, while one legitimate browser goes through a normal
// flow; it reports what the attacker got, what the user saw, and the
// server's memory.
//
//	go run ./bench/flood [-attack NAME[,NAME…]] [-duration 15s]
//
// Each attack gets a fresh server: the real examples/chat program (or
// examples/progress for the meters), built by package path and run as a
// process of its own with its default settings, so that its resident set
// is its own. The user (a cookie jar going page, send, receive on the
// chat; page, start, status on the progress example, with a pause of
// 100ms between rounds) runs for -baseline before the attack and through
// it; every step is timed and its status kept. An idle established
// browser (five requests before the attack) comes back after it: a new
// cookie then means its session was evicted. The attacker runs from
// another address, bounded in count and in time (-duration).
//
// The attacks (names for -attack):
//
//	streams     10,000 cookie-less GET /events streams from one address (item 1)
//	bots        browsers that come back once with their cookie (item 2)
//	nonreaders  history filled with '<'-heavy messages, then 2,000
//	            connections send GET /receive?since=999999999 and never read (item 3)
//	bodies      64 browsers, each with a long poll open and 16 POSTs of 1 MiB
//	            queued behind it, in three waves (item 4)
//	cookies     requests with hundreds of signed-looking cid cookies, then the same bytes of junk (item 8)
//	logs        a storm of evictions; the server's stderr is measured (item 7)
//	meters      progress: 1,000 sessions starting meters, and 2,000 watchers of one meter (item 6)
//
// Continuity never bounds loopback clients (the host itself, or a proxy
// on it), so an attacker on 127.0.0.x would not meet the per-client
// bounds. The bench therefore runs in a network namespace of its own (a
// user namespace too, when not root) whose loopback interface carries
// 198.18.0.0/16: the server listens on 198.18.0.1, the user comes from
// 198.18.0.2, the attacker from 198.18.0.3, the idle user from
// 198.18.0.4 (bots from 198.18.1.0 on, with -bot-addrs). Nothing leaves the namespace. Where a namespace cannot be
// made, it runs on 127.0.0.1 and says that the per-client bounds do not
// apply.
//
// It raises its open-file limit to the hard limit (the servers inherit
// it). A default run takes under three minutes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/continuity-go/continuity/bench/internal/proc"
)

func main() {
	names := flag.String("attack", "all", "attacks to run, comma-separated: "+strings.Join(attackNames(), ", "))
	duration := flag.Duration("duration", 15*time.Second, "how long each attack runs")
	baseline := flag.Duration("baseline", 3*time.Second, "how long the user runs before each attack")
	settle := flag.Duration("settle", 3*time.Second, "wait after an attack before the final RSS")
	botAddrs := flag.Int("bot-addrs", 1, "addresses the returning bots come from (1: one client)")
	chat := flag.String("chat", "", "chat server binary (default: go build ./examples/chat)")
	progress := flag.String("progress", "", "progress server binary (default: go build ./examples/progress)")
	noKeepAlive := flag.Bool("no-keepalive", false, "attackers close each connection after one request (the user keeps its own)")
	noIsolate := flag.Bool("loopback", false, "run on 127.0.0.1 instead of a network namespace (per-client bounds then do not apply)")
	child := flag.Bool("netns-child", false, "(internal) run inside the namespace")
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
	attacks, err := pick(*names)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(2)
	}
	if *duration <= 0 || *baseline <= 0 || *settle < 0 || *botAddrs < 1 || *botAddrs > 60000 {
		fmt.Fprintln(os.Stderr, "flood: -duration and -baseline must be positive, -settle not negative, -bot-addrs 1 to 60000")
		os.Exit(2)
	}
	if _, err := raiseFileLimit(); err != nil {
		fail(err)
	}
	e := &env{duration: *duration, baseline: *baseline, settle: *settle, botAddrs: *botAddrs, noKeepAlive: *noKeepAlive, chat: *chat, progress: *progress}

	if *child {
		if err := setupLoopback(); err != nil {
			fmt.Fprintln(os.Stderr, "flood: in the namespace:", err)
			os.Exit(exitNoNetns)
		}
		e.isolate()
		if err := run(e, attacks); err != nil {
			fail(err)
		}
		return
	}

	dir, err := os.MkdirTemp("", "flood")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	if err := e.build(dir, attacks); err != nil {
		os.RemoveAll(dir)
		fail(err)
	}
	if !*noIsolate {
		ran, code, err := isolate([]string{"-netns-child", "-chat", e.chat, "-progress", e.progress})
		if ran {
			os.RemoveAll(dir)
			if err != nil {
				fail(err)
			}
			os.Exit(code)
		}
		fmt.Printf("flood: no network namespace (%v); running on 127.0.0.1, where the per-client bounds do not apply\n", err)
	}
	e.loopback()
	if err := run(e, attacks); err != nil {
		os.RemoveAll(dir)
		fail(err)
	}
}

// env is where the attacks run.
type env struct {
	chat, progress             string // server binaries
	server, user, idle         netip.Addr
	attacker                   netip.Addr
	bots                       netip.Addr // the first bot address
	botAddrs                   int
	noKeepAlive                bool
	duration, baseline, settle time.Duration
	isolated                   bool
}

func (e *env) isolate() {
	e.isolated = true
	e.server, e.user, e.idle, e.attacker, e.bots = isoServer, isoUser, isoIdle, isoAttack, isoBots
}

func (e *env) loopback() {
	e.server = netip.MustParseAddr("127.0.0.1")
	e.user = netip.Addr{} // the default source, 127.0.0.1
	e.idle = netip.Addr{}
	e.attacker = netip.MustParseAddr("127.0.0.2")
	e.bots = netip.MustParseAddr("127.0.1.0")
}

// bot is the address of the i'th bot.
func (e *env) bot(i int) netip.Addr {
	if e.botAddrs == 1 {
		return e.attacker
	}
	a := e.bots.As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += uint32(i % e.botAddrs)
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// build builds the example servers the attacks need, unless given.
func (e *env) build(dir string, attacks []*attack) error {
	for _, b := range []struct {
		bin  *string
		pkg  string
		used bool
	}{
		{&e.chat, "chat", slices.ContainsFunc(attacks, func(a *attack) bool { return !a.progress })},
		{&e.progress, "progress", slices.ContainsFunc(attacks, func(a *attack) bool { return a.progress })},
	} {
		if *b.bin != "" || !b.used {
			continue
		}
		*b.bin = filepath.Join(dir, b.pkg)
		out, err := exec.Command("go", "build", "-o", *b.bin, "github.com/continuity-go/continuity/examples/"+b.pkg).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build ./examples/%s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}

func pick(names string) ([]*attack, error) {
	if names == "all" {
		return allAttacks, nil
	}
	var out []*attack
	for n := range strings.SplitSeq(names, ",") {
		i := slices.IndexFunc(allAttacks, func(a *attack) bool { return a.name == strings.TrimSpace(n) })
		if i < 0 {
			return nil, fmt.Errorf("no attack %q; there are %s", n, strings.Join(attackNames(), ", "))
		}
		out = append(out, allAttacks[i])
	}
	return out, nil
}

func attackNames() []string {
	var s []string
	for _, a := range allAttacks {
		s = append(s, a.name)
	}
	return s
}

// result is what one attack's run measured.
type result struct {
	attack                      *attack
	hold, took, settle          time.Duration
	got                         string // the attacker's tally
	notes                       []string
	before, during              phaseStats
	renewed                     int64
	idleBefore, idleAfter       phaseStats // the idle user's five requests, and its return
	idleRenewed                 int64
	rssBefore, rssPeak, rssLast int64
	ends                        map[string]int64
	stderr, stderrLines         int64
}

func run(e *env, attacks []*attack) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	where := "a network namespace of its own: server 198.18.0.1, user 198.18.0.2, attacker 198.18.0.3"
	if !e.isolated {
		where = "loopback: server and user 127.0.0.1, attacker 127.0.0.2 (per-client bounds do not apply to loopback)"
	}
	fmt.Printf("flood: %d attacks, each %v after a %v baseline; %s; GOMAXPROCS %d, %d CPUs, %s/%s, %s\n",
		len(attacks), e.duration, e.baseline, where, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	var results []*result
	for _, at := range attacks {
		if ctx.Err() != nil {
			break
		}
		r, err := runAttack(ctx, e, at)
		if err != nil {
			return fmt.Errorf("%s: %w", at.name, err)
		}
		r.print()
		results = append(results, r)
	}
	if len(results) > 0 {
		printTable(results)
	}
	return ctx.Err()
}

// arena is one attack's server and tallies.
type arena struct {
	env   *env
	base  string
	host  string // host:port of base
	tally *tally
	dials chan struct{}
	srv   *server
	rss   *rssWatch

	mu         sync.Mutex
	notes      []string
	transports map[netip.Addr]*http.Transport
}

func (a *arena) note(format string, args ...any) {
	a.mu.Lock()
	a.notes = append(a.notes, fmt.Sprintf(format, args...))
	a.mu.Unlock()
}

func runAttack(ctx context.Context, e *env, at *attack) (*result, error) {
	bin, flow := e.chat, chatFlow
	if at.progress {
		bin, flow = e.progress, progressFlow
	}
	if at.flow != nil {
		flow = at.flow
	}
	args := append([]string{"-addr", netip.AddrPortFrom(e.server, 0).String()}, at.args...)
	srv, base, err := startServer(bin, args)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.stop()
		}
	}()
	rw := watchRSS(srv, 50*time.Millisecond)
	defer func() {
		if !stopped {
			rw.stop()
		}
	}()
	a := &arena{env: e, base: base, host: strings.TrimPrefix(base, "http://"), tally: newTally(), dials: make(chan struct{}, 256),
		transports: make(map[netip.Addr]*http.Transport)}
	if at.prepare != nil {
		if err := at.prepare(ctx, a); err != nil {
			return nil, fmt.Errorf("preparing: %w", err)
		}
	}

	// The idle user: an established browser (five requests) that is
	// away during the attack and comes back after it.
	idle := newUser(base, e.idle, make(chan struct{}, 1), nil)
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
		idle.do(ctx, "page", req, nil)
	}

	u := newUser(base, e.user, make(chan struct{}, 4), flow)
	uctx, ucancel := context.WithCancel(ctx)
	udone := make(chan struct{})
	go func() { defer close(udone); u.run(uctx) }()
	defer func() { ucancel(); <-udone }()
	// A first round makes the user an established browser (and the
	// server touch its lazy paths) before anything is counted.
	pause(ctx, time.Second)
	u.phase.Store(phaseBefore)
	pause(ctx, e.baseline)
	rw.sample(srv)
	rssBefore := rw.last()
	a.rss, a.srv = rw, srv

	hold := e.duration
	u.phase.Store(phaseDuring)
	actx, acancel := context.WithTimeout(ctx, hold)
	t0 := time.Now()
	at.run(actx, a)
	acancel()
	took := time.Since(t0)
	ucancel()
	<-udone
	idle.phase.Store(phaseDuring)
	req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	idle.do(ctx, "page", req, nil)
	for _, t := range a.transports {
		t.CloseIdleConnections()
	}
	pause(ctx, e.settle)
	rw.sample(srv)
	peak, last := rw.peak(t0), rw.last()
	rw.stop()
	srv.stop()
	stopped = true

	r := &result{
		attack: at, hold: hold, took: took, settle: e.settle, got: a.tally.String(), notes: a.notes,
		before: u.stats(phaseBefore), during: u.stats(phaseDuring), renewed: u.renewed.Load(),
		idleBefore: idle.stats(phaseWarmup), idleAfter: idle.stats(phaseDuring), idleRenewed: idle.renewed.Load(),
		rssBefore: rssBefore, rssPeak: peak, rssLast: last, ends: srv.log.sessionEnds(),
	}
	r.stderr, r.stderrLines = srv.log.counts()
	return r, nil
}

func (r *result) print() {
	at := r.attack
	fmt.Printf("\n== %s (issue 9 item %d): %s\n", at.name, at.item, at.title)
	fmt.Printf("attack ran %v (bound %v)\n", r.took.Round(100*time.Millisecond), r.hold)
	fmt.Printf("attacker got: %s\n", r.got)
	for _, n := range r.notes {
		fmt.Printf("  %s\n", n)
	}
	fmt.Printf("user flow: %s, then %v\n", at.userFlow(), thinkTime)
	fmt.Printf("user before: %s; latency p50 / p99 / max %s\n", r.before.outcome(), r.before.latency())
	fmt.Printf("user during: %s; latency p50 / p99 / max %s\n", r.during.outcome(), r.during.latency())
	if r.renewed > 0 {
		fmt.Printf("USER LOST ITS SESSIONS: %d answers set a new session cookie although it sent one\n", r.renewed)
	} else {
		fmt.Printf("user kept its browser session (no new cookie)\n")
	}
	fmt.Printf("idle user (5 requests before, back after): %s\n", r.idleOutcome())
	fmt.Printf("server RSS: before %s, peak %s, final %s (%v after the attack)\n", mib(r.rssBefore), mib(r.rssPeak), mib(r.rssLast), r.settle)
	fmt.Printf("server stderr: %s bytes, %s lines; session ends logged: %s\n", thousands(r.stderr), thousands(r.stderrLines), r.endsString())
}

func (r *result) idleOutcome() string {
	switch {
	case !r.idleBefore.ok() || !r.idleAfter.ok():
		return fmt.Sprintf("NOT 200: before %s; back %s", r.idleBefore.outcome(), r.idleAfter.outcome())
	case r.idleRenewed > 0:
		return "LOST its session (a new cookie when it came back)"
	}
	return "kept its session"
}

func (r *result) endsString() string {
	keys := make([]string, 0, len(r.ends))
	for k := range r.ends {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, thousands(r.ends[k])+" "+k)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// printTable prints the results as the Markdown table in README.
func printTable(results []*result) {
	fmt.Println()
	fmt.Println("| attack | attacker got | user before: steps; p50 / p99 / max | user during | idle user | server RSS before → peak → final | server stderr |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range results {
		during := r.during.outcome() + "; " + r.during.latency()
		if r.renewed > 0 {
			during += fmt.Sprintf("; **lost its sessions %d×**", r.renewed)
		}
		fmt.Printf("| %s (item %d) | %s | %s; %s | %s | %s | %s → %s → %s | %s B |\n",
			r.attack.name, r.attack.item, r.got, r.before.outcome(), r.before.latency(), during, r.idleOutcome(),
			mib(r.rssBefore), mib(r.rssPeak), mib(r.rssLast), thousands(r.stderr))
	}
}

// raiseFileLimit raises the soft open-file limit to the hard one, which
// must be 12,000 at least.
func raiseFileLimit() (uint64, error) {
	n, err := proc.RaiseFileLimit()
	if err == nil && n < 12000 {
		err = errors.New("the open-file limit is under 12,000; raise the hard limit (ulimit -Hn)")
	}
	return n, err
}
