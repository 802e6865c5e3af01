package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
)

// An attack is one of issue 9's, run against a fresh server.
type attack struct {
	name, title string
	item        int
	progress    bool                              // on examples/progress, not examples/chat
	flow        func(context.Context, *user, int) // the user's, if not the example's usual one
	flowName    string
	args        []string // the server's flags beyond -addr
	prepare     func(ctx context.Context, a *arena) error
	run         func(ctx context.Context, a *arena)
}

var allAttacks = []*attack{
	{name: "streams", item: 1, title: "10,000 cookie-less GET /events streams from one address; a refused one retries after 1s", run: streams},
	{name: "bots", item: 2, title: "64 at a time, browsers that load the page and come back once with their cookie", run: bots},
	{name: "nonreaders", item: 3, title: "history of 1,024 messages of 1,000 '<', then 2,000 connections send GET /receive?since=999999999 and never read the answer (4 KiB receive buffers)",
		prepare: fillHistory, run: nonReaders},
	{name: "bodies", item: 4, title: "64 browsers, each with a long poll open and 16 POSTs of 1 MiB queued behind it; three waves, each a third of the time",
		prepare: oneMessage, run: bodies, flow: chatReadFlow, flowName: "page, receive (a reader: a message sent would end the attacker's long polls)"},
	{name: "cookies", item: 8, title: "GET / with hundreds of signed-looking cid cookies (60 KB), 16 at a time; second half: the same bytes of junk", run: cookies},
	{name: "logs", item: 7, title: "cookie-less GET /, 32 at a time: every new session past the client's share evicts one", run: logFlood},
	{name: "meters", item: 6, progress: true, args: []string{"-steps", "10", "-step", "50ms"},
		title: "progress (tasks of 10 × 50ms): 1,000 sessions starting meters with new progress_ids, and 2,000 SSE watchers of one session's meter", run: meters},
}

// userFlow names the steps of the user's round.
func (at *attack) userFlow() string {
	switch {
	case at.flowName != "":
		return at.flowName
	case at.progress:
		return "page, start (timed to its first line), status"
	}
	return "page, send, receive"
}

// client is an HTTP client with jar whose connections come from local:
// one transport per address, whose idle connections the arena closes
// after the attack.
func (a *arena) client(local netip.Addr, jar http.CookieJar) *http.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	tr := a.transports[local]
	if tr == nil {
		tr = newTransport(local, a.dials, 0)
		tr.DisableKeepAlives = a.env.noKeepAlive
		a.transports[local] = tr
	}
	return &http.Client{Transport: tr, Jar: jar}
}

// do sends req and reads the answer; it tallies the outcome unless the
// attack is over, and returns the response (body read) or nil.
func (a *arena) do(ctx context.Context, c *http.Client, req *http.Request, prefix string) (*http.Response, []byte) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		if ctx.Err() == nil {
			a.tally.add(prefix+errKind(err), 1)
		}
		return nil, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil && ctx.Err() != nil {
		return nil, nil
	}
	a.tally.add(prefix+strconv.Itoa(resp.StatusCode), 1)
	return resp, body
}

// streams: issue item 1. Streams hold their sessions busy; the client's
// busy share bounds them.
func streams(ctx context.Context, a *arena) {
	const clients = 10000
	c := a.client(a.env.attacker, nil)
	b := newBudget(200_000)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil && b.take() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/events", nil)
				req.Header.Set("Accept", "text/event-stream")
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						a.tally.err(err)
						pause(ctx, time.Second)
					}
					continue
				}
				a.tally.status(resp.StatusCode)
				if resp.StatusCode == http.StatusOK {
					n := held.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					io.Copy(io.Discard, resp.Body) // until the attack ends
					held.Add(-1)
					resp.Body.Close()
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				pause(ctx, time.Second)
			}
		})
	}
	wg.Wait()
	a.note("streams open at once: at most %s", thousands(peak.Load()))
}

// bots: issue item 2. Each bot is a browser that loads the page and comes
// back once with its cookie, which takes its session out of the
// one-request group that eviction takes first.
func bots(ctx context.Context, a *arena) {
	const workers = 64
	b := newBudget(500_000)
	var made, gone atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && b.take() {
				i := made.Add(1)
				jar, _ := cookiejar.New(nil)
				c := a.client(a.env.bot(int(i)), jar)
				req, _ := http.NewRequest(http.MethodGet, a.base+"/", nil)
				if resp, _ := a.do(ctx, c, req, ""); resp == nil || resp.StatusCode != http.StatusOK {
					pause(ctx, 100*time.Millisecond)
					continue
				}
				resp, _ := a.do(ctx, c, req, "")
				if resp != nil && len(resp.Cookies()) > 0 {
					gone.Add(1) // its session had been displaced already
				}
			}
		})
	}
	wg.Wait()
	a.note("bots: %s from %d address(es); %s found their session already gone when they came back",
		thousands(made.Load()), a.env.botAddrs, thousands(gone.Load()))
}

// fillHistory fills the chat's 1,024-message history with messages of
// 1,000 '<', which JSON escapes to 6 bytes each.
func fillHistory(ctx context.Context, a *arena) error {
	jar, _ := cookiejar.New(nil)
	c := a.client(a.env.attacker, jar)
	form := url.Values{"name": {"flood"}, "message": {strings.Repeat("<", 1000)}}.Encode()
	for range 1024 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/send", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST /send: %s", resp.Status)
		}
	}
	return nil
}

// nonReaders: issue item 3. Each connection sends one request that asks
// for the history from an id the server never had, reads the status line
// and nothing more, and is held until the attack ends.
func nonReaders(ctx context.Context, a *arena) {
	const conns = 2000
	d := dialer(a.env.attacker, 4096)
	req := "GET /receive?since=999999999 HTTP/1.1\r\nHost: " + a.host + "\r\nAccept: application/json\r\n\r\n"
	var mu sync.Mutex
	var open []net.Conn
	var wg sync.WaitGroup
	for range conns {
		if ctx.Err() != nil {
			break
		}
		a.dials <- struct{}{}
		wg.Go(func() {
			defer func() { <-a.dials }()
			c, err := d.DialContext(ctx, "tcp", a.host)
			if err != nil {
				if ctx.Err() == nil {
					a.tally.err(err)
				}
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var line [12]byte // "HTTP/1.1 200"
			if _, err := io.WriteString(c, req); err != nil {
				a.tally.err(err)
				c.Close()
				return
			}
			if _, err := io.ReadFull(c, line[:]); err != nil {
				a.tally.err(err)
				c.Close()
				return
			}
			a.tally.add(strings.TrimPrefix(string(line[:]), "HTTP/1.1 "), 1)
			c.SetDeadline(time.Time{})
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	<-ctx.Done()
	// Which connections had the server cut (its write deadline) by now,
	// and how much of its answer was waiting in each?
	var cut, live, pending atomic.Int64
	for _, c := range open {
		wg.Go(func() {
			defer c.Close()
			buf := make([]byte, 64<<10)
			for read := 0; read < 16<<20; {
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				n, err := c.Read(buf)
				read += n
				pending.Add(int64(n))
				if err != nil {
					if errKind(err) == "timeout" {
						live.Add(1)
					} else {
						cut.Add(1)
					}
					return
				}
			}
			live.Add(1)
		})
	}
	wg.Wait()
	a.note("when the attacker left: %s of its %s connections had been closed by the server, %s were open; %s KiB per connection waited unread in the socket buffers",
		thousands(cut.Load()), thousands(int64(len(open))), thousands(live.Load()), thousands(pending.Load()/int64(max(len(open), 1))>>10))
}

// oneMessage posts a message, so that GET receive?since=0 answers at once.
func oneMessage(ctx context.Context, a *arena) error {
	c := a.client(a.env.attacker, nil)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/send", strings.NewReader("name=flood&message=hi"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST /send: %s", resp.Status)
	}
	return nil
}

// bodies: issue item 4. Each browser's receive session is busy with a
// long poll; 16 form POSTs of (just under) 1 MiB each queue behind it. The
// attack comes in three waves, each for a third of the time: the later
// ones show whether the earlier waves' bodies were let go when their
// clients went, in the server's count and in its memory.
func bodies(ctx context.Context, a *arena) {
	const waves = 3
	for wave := 1; wave <= waves && ctx.Err() == nil; wave++ {
		wctx, cancel := context.WithTimeout(ctx, a.env.duration/waves)
		t0 := time.Now()
		queued := bodiesWave(wctx, a)
		cancel()
		a.rss.sample(a.srv)
		a.note("wave %d: 64 long polls, 1,024 POSTs of 1 MiB; %d unanswered (queued, or still sending) when the attacker left; server RSS peak %s",
			wave, queued, mib(a.rss.peak(t0)))
	}
}

func bodiesWave(ctx context.Context, a *arena) int64 {
	const browsers, posts = 64, 16
	body := append([]byte("x="), bytes.Repeat([]byte{'a'}, 1<<20-64)...)
	var wg sync.WaitGroup
	var queued atomic.Int64
	for range browsers {
		wg.Go(func() {
			jar, _ := cookiejar.New(nil)
			c := a.client(a.env.attacker, jar)
			first, _ := http.NewRequest(http.MethodGet, a.base+"/receive?since=0", nil)
			first.Header.Set("Accept", "application/json")
			resp, b := a.do(ctx, c, first, "GET receive ")
			var page struct{ Next uint64 }
			if resp == nil || resp.StatusCode != http.StatusOK || json.Unmarshal(b, &page) != nil {
				return
			}
			var inner sync.WaitGroup
			inner.Go(func() {
				poll, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/receive?since=%d", a.base, page.Next), nil)
				poll.Header.Set("Accept", "application/json")
				if resp, err := c.Do(poll); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			pause(ctx, 300*time.Millisecond) // the long poll is taken
			for range posts {
				inner.Go(func() {
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/receive", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					resp, err := c.Do(req)
					if err != nil {
						if ctx.Err() != nil {
							queued.Add(1)
							a.tally.add("POST unanswered when the attacker left", 1)
						} else {
							a.tally.add("POST "+errKind(err), 1)
						}
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					a.tally.add("POST "+strconv.Itoa(resp.StatusCode), 1)
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	return queued.Load()
}

// cookies: issue item 8. The signed-looking cookies are real securecookie
// values under a key the server does not have, so each one the server
// tries costs an HMAC; junk of the same length fails before that.
func cookies(ctx context.Context, a *arena) {
	const workers = 16
	sc := securecookie.New(securecookie.GenerateRandomKey(32), nil)
	sc.SetSerializer(securecookie.NopEncoder{})
	one, _ := sc.Encode("cid", []byte(rand.Text()))
	n := 60000 / (len(one) + len("cid=; "))
	var signed, junk strings.Builder
	for i := range n {
		v, _ := sc.Encode("cid", []byte(rand.Text()))
		j := make([]byte, len(v)*3/4+1)
		rand.Read(j)
		if i > 0 {
			signed.WriteString("; ")
			junk.WriteString("; ")
		}
		signed.WriteString("cid=" + v)
		junk.WriteString("cid=" + base64.URLEncoding.EncodeToString(j)[:len(v)])
	}
	c := a.client(a.env.attacker, nil)
	half := a.env.duration / 2
	for _, phase := range []struct {
		name, header string
	}{{"signed", signed.String()}, {"junk", junk.String()}} {
		pctx, cancel := context.WithTimeout(ctx, half)
		b := newBudget(1_000_000)
		var done atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for range workers {
			wg.Go(func() {
				for pctx.Err() == nil && b.take() {
					req, _ := http.NewRequest(http.MethodGet, a.base+"/", nil)
					req.Header.Set("Cookie", phase.header)
					if resp, _ := a.do(pctx, c, req, phase.name+" "); resp != nil {
						done.Add(1)
					}
				}
			})
		}
		wg.Wait()
		cancel()
		a.note("%d %s cookies (%s bytes) per request: %s requests, %.0f per second",
			n, phase.name, thousands(int64(len(phase.header))), thousands(done.Load()), float64(done.Load())/time.Since(t0).Seconds())
	}
}

// logFlood: issue item 7. Every request is a new browser; past the
// client's share each one displaces (evicts) one of its own sessions,
// and the examples log each session's end.
func logFlood(ctx context.Context, a *arena) {
	const workers = 32
	c := a.client(a.env.attacker, nil)
	b := newBudget(1_000_000)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && b.take() {
				req, _ := http.NewRequest(http.MethodGet, a.base+"/", nil)
				a.do(ctx, c, req, "")
			}
		})
	}
	wg.Wait()
}

// meters: issue item 6, on the progress example. Each flooding session
// starts meter after meter (each its own progress_id); the watchers all
// watch the one meter of one session, by Server-Sent Events.
func meters(ctx context.Context, a *arena) {
	const sessions, watchers = 1000, 2000
	b := newBudget(2_000_000)
	var wg sync.WaitGroup
	// The watched session first: once it exists, the client's busy share
	// (which the flood takes) does not stop its meter.
	jar, _ := cookiejar.New(nil)
	owner := a.client(a.env.attacker, jar)
	req, _ := http.NewRequest(http.MethodGet, a.base+"/", nil)
	a.do(ctx, owner, req, "watched session's page ")
	wg.Go(func() { // the watched session: its meter "work", again and again
		for ctx.Err() == nil && b.take() {
			req, _ := http.NewRequest(http.MethodPost, a.base+"/start", nil)
			if resp, _ := a.do(ctx, owner, req, "watched start "); resp == nil || resp.StatusCode != http.StatusOK {
				pause(ctx, 200*time.Millisecond)
			}
		}
	})
	for range watchers {
		wg.Go(func() {
			for ctx.Err() == nil && b.take() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/_progress_status/work", nil)
				req.Header.Set("Accept", "text/event-stream")
				resp, err := owner.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						a.tally.add("watch "+errKind(err), 1)
						pause(ctx, time.Second)
					}
					continue
				}
				a.tally.add("watch "+strconv.Itoa(resp.StatusCode), 1)
				wait := time.Second
				if resp.StatusCode == http.StatusOK {
					wait = 100 * time.Millisecond
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				pause(ctx, wait)
			}
		})
	}
	for range sessions {
		wg.Go(func() {
			jar, _ := cookiejar.New(nil)
			c := a.client(a.env.attacker, jar)
			for k := 1; ctx.Err() == nil && b.take(); k++ {
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/start?progress_id=m%d", a.base, k), nil)
				if resp, _ := a.do(ctx, c, req, "start "); resp == nil || resp.StatusCode != http.StatusOK {
					pause(ctx, time.Second)
				}
			}
		})
	}
	wg.Wait()
}
