package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stepTimeout bounds one step of the legitimate user; a step that takes
// longer counts as "timeout".
const stepTimeout = 20 * time.Second

// thinkTime is the user's pause between two rounds of its flow.
const thinkTime = 100 * time.Millisecond

// Phases of a run, for the user's samples.
const (
	phaseWarmup = iota
	phaseBefore
	phaseDuring
)

// A user is the legitimate browser: one cookie jar, its own address,
// going through a flow step by step while the attack runs.
type user struct {
	c     *http.Client
	jar   http.CookieJar
	base  string
	flow  func(ctx context.Context, u *user, round int)
	phase atomic.Int32

	mu      sync.Mutex
	samples []sample
	// renewed counts responses that set a new session cookie although
	// the request carried one: the browser's sessions had all ended.
	renewed atomic.Int64
}

type sample struct {
	phase  int32
	step   string
	status string
	d      time.Duration
}

func newUser(base string, local netip.Addr, dials chan struct{}, flow func(context.Context, *user, int)) *user {
	jar, _ := cookiejar.New(nil)
	return &user{
		c:    &http.Client{Transport: newTransport(local, dials, 0), Jar: jar},
		jar:  jar,
		base: base,
		flow: flow,
	}
}

// run goes through the flow, round after round, until ctx is done.
func (u *user) run(ctx context.Context) {
	for round := 1; ctx.Err() == nil; round++ {
		u.flow(ctx, u, round)
		pause(ctx, thinkTime)
	}
}

func (u *user) record(step, status string, d time.Duration) {
	u.mu.Lock()
	u.samples = append(u.samples, sample{u.phase.Load(), step, status, d})
	u.mu.Unlock()
}

// do sends one step's request and reads the answer, timing both; check,
// if set, says whether a 200 answer's body is right. It returns the body
// of a 200 answer that checked, else nil.
func (u *user) do(ctx context.Context, step string, req *http.Request, check func([]byte) bool) []byte {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	had := len(u.jar.Cookies(req.URL)) > 0
	start := time.Now()
	resp, err := u.c.Do(req.WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil && ctx.Err() != context.DeadlineExceeded {
			return nil // the run is over, not the step
		}
		u.record(step, errKind(err), time.Since(start))
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	u.noteCookie(had, resp)
	status := strconv.Itoa(resp.StatusCode)
	switch {
	case err != nil:
		status += " " + errKind(err)
	case resp.StatusCode == http.StatusOK && check != nil && !check(body):
		status += " (wrong body)"
	}
	u.record(step, status, d)
	if status != "200" {
		return nil
	}
	return body
}

func (u *user) noteCookie(had bool, resp *http.Response) {
	if !had {
		return
	}
	for _, c := range resp.Cookies() {
		if c.Name == "cid" {
			u.renewed.Add(1)
		}
	}
}

// chatFlow is a chat user's round: the page, a message sent, and that
// message received (GET receive from just before it, which answers at
// once).
func chatFlow(ctx context.Context, u *user, round int) {
	page, _ := http.NewRequest(http.MethodGet, u.base+"/", nil)
	if u.do(ctx, "page", page, func(b []byte) bool { return strings.Contains(string(b), "<title>Chat</title>") }) == nil {
		return
	}
	text := fmt.Sprintf("hello %d", round)
	form := url.Values{"name": {"user"}, "message": {text}}
	send, _ := http.NewRequest(http.MethodPost, u.base+"/send", strings.NewReader(form.Encode()))
	send.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	send.Header.Set("Accept", "application/json")
	var sent struct{ ID uint64 }
	if u.do(ctx, "send", send, func(b []byte) bool { return json.Unmarshal(b, &sent) == nil && sent.ID > 0 }) == nil {
		return
	}
	recv, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/receive?since=%d", u.base, sent.ID-1), nil)
	recv.Header.Set("Accept", "application/json")
	u.do(ctx, "receive", recv, func(b []byte) bool {
		var a struct {
			Messages []struct {
				ID      uint64
				Message string
			}
		}
		return json.Unmarshal(b, &a) == nil && len(a.Messages) > 0 && a.Messages[0].ID == sent.ID && a.Messages[0].Message == text
	})
}

// chatReadFlow is a chat reader's round: the page, and the latest
// message (GET receive from just before it, which answers at once). It
// sends nothing: a message would answer every waiting long poll, the
// attacker's too.
func chatReadFlow(ctx context.Context, u *user, round int) {
	page, _ := http.NewRequest(http.MethodGet, u.base+"/", nil)
	var last uint64
	if u.do(ctx, "page", page, func(b []byte) bool {
		_, rest, ok := strings.Cut(string(b), `data-since="`)
		v, _, _ := strings.Cut(rest, `"`)
		n, err := strconv.ParseUint(v, 10, 64)
		last = n
		return ok && err == nil && n > 0
	}) == nil {
		return
	}
	recv, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/receive?since=%d", u.base, last-1), nil)
	recv.Header.Set("Accept", "application/json")
	u.do(ctx, "receive", recv, func(b []byte) bool {
		var a struct{ Messages []struct{ ID uint64 } }
		return json.Unmarshal(b, &a) == nil && len(a.Messages) == 1 && a.Messages[0].ID == last
	})
}

// progressFlow is a progress user's round: the page, Start (timed to the
// answer's first line, {"started":true}), the meter's status while the
// task runs, then the rest of the task's answer ({"done":true}, untimed).
func progressFlow(ctx context.Context, u *user, round int) {
	page, _ := http.NewRequest(http.MethodGet, u.base+"/", nil)
	if u.do(ctx, "page", page, func(b []byte) bool { return strings.Contains(string(b), "_progress_status/work") }) == nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	start, _ := http.NewRequestWithContext(sctx, http.MethodPost, u.base+"/start", nil)
	had := len(u.jar.Cookies(start.URL)) > 0
	t0 := time.Now()
	resp, err := u.c.Do(start)
	if err != nil {
		if ctx.Err() == nil {
			u.record("start", errKind(err), time.Since(t0))
		}
		return
	}
	defer resp.Body.Close()
	u.noteCookie(had, resp)
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	status := strconv.Itoa(resp.StatusCode)
	if err != nil {
		status += " " + errKind(err)
	} else if resp.StatusCode == http.StatusOK && line != "{\"started\":true}\n" {
		status += " (wrong body)"
	}
	u.record("start", status, time.Since(t0))
	if status != "200" {
		return
	}
	st, _ := http.NewRequest(http.MethodGet, u.base+"/_progress_status/work", nil)
	u.do(ctx, "status", st, func(b []byte) bool {
		var s struct {
			Name  string
			Total int
		}
		return json.Unmarshal(b, &s) == nil && s.Name == "work" && s.Total > 0
	})
	rest, err := io.ReadAll(br)
	if ctx.Err() == nil && (err != nil || !strings.Contains(string(rest), `"done":true`)) {
		u.record("task", "200 (task did not finish: "+strings.TrimSpace(string(rest))+")", 0)
	}
}

// phaseStats summarises the user's samples of one phase.
type phaseStats struct {
	n             int
	statuses      map[string]int // by status; "200" is the good one
	badSteps      map[string]int // non-200 samples by step
	p50, p99, max time.Duration
}

func (u *user) stats(phase int32) phaseStats {
	u.mu.Lock()
	defer u.mu.Unlock()
	ps := phaseStats{statuses: map[string]int{}, badSteps: map[string]int{}}
	var ds []time.Duration
	for _, s := range u.samples {
		if s.phase != phase {
			continue
		}
		ps.n++
		ps.statuses[s.status]++
		if s.status != "200" {
			ps.badSteps[s.step+" "+s.status]++
		}
		ds = append(ds, s.d)
	}
	if len(ds) > 0 {
		slices.Sort(ds)
		ps.p50, ps.p99, ps.max = quantile(ds, 0.50), quantile(ds, 0.99), ds[len(ds)-1]
	}
	return ps
}

// quantile is the q-quantile of sorted ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	i := int(float64(len(ds))*q+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// ok says whether every step of the phase got 200.
func (ps phaseStats) ok() bool { return ps.n > 0 && ps.statuses["200"] == ps.n }

func (ps phaseStats) latency() string {
	if ps.n == 0 {
		return "no steps"
	}
	return fmt.Sprintf("%s / %s / %s", ms(ps.p50), ms(ps.p99), ms(ps.max))
}

func (ps phaseStats) outcome() string {
	if ps.n == 0 {
		return "no steps"
	}
	if ps.ok() {
		return fmt.Sprintf("%d steps, all 200", ps.n)
	}
	bad := make([]string, 0, len(ps.badSteps))
	for k, v := range ps.badSteps {
		bad = append(bad, fmt.Sprintf("%d× %s", v, k))
	}
	slices.Sort(bad)
	return fmt.Sprintf("%d steps, %d × 200; NOT 200: %s", ps.n, ps.statuses["200"], strings.Join(bad, ", "))
}

func ms(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
