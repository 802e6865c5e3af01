package continuity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The admin page's history: a sample a second, for five minutes.
const (
	sampleEvery = time.Second
	sampleCount = 300
	// adminRows bounds the sessions the page lists, most recently used
	// first; Inspect has them all.
	adminRows = 500
)

// A sample is one reading of the counters the admin page charts.
type sample struct {
	at      time.Time
	live    int
	served  uint64 // steps answered, since the start
	refused uint64 // requests refused for want of capacity, since the start
}

// reading reads the counters now.
func (s *Server) reading() sample {
	var refused uint64
	for o := range numOutcomes {
		if o.refusal() {
			refused += s.counts.n[o].Load()
		}
	}
	return sample{at: time.Now(), live: s.mapper.Len(), served: s.counts.n[oServed].Load(), refused: refused}
}

// A sampler keeps the last samples in a ring, taking one a second on a
// goroutine of its own. The server owns it: [Server.AdminPage] starts it
// (a server nobody looks at keeps no history), Shutdown and Close stop it.
type sampler struct {
	mu    sync.Mutex
	ring  []sample // oldest at next once full
	next  int
	state uint8 // samplerIdle, samplerRunning or samplerStopped
	quit  chan struct{}
	done  chan struct{}
}

const (
	samplerIdle uint8 = iota
	samplerRunning
	samplerStopped
)

// start starts sampling s, once, unless s is closing or sampling has been
// stopped.
func (sm *sampler) start(s *Server) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.state != samplerIdle || s.closing.Load() {
		return
	}
	sm.state = samplerRunning
	sm.ring = make([]sample, 0, sampleCount)
	sm.addLocked(s.reading())
	sm.quit, sm.done = make(chan struct{}), make(chan struct{})
	go sm.run(s)
}

func (sm *sampler) run(s *Server) {
	defer close(sm.done)
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r := s.reading()
			sm.mu.Lock()
			sm.addLocked(r)
			sm.mu.Unlock()
		case <-sm.quit:
			return
		}
	}
}

func (sm *sampler) addLocked(r sample) {
	if len(sm.ring) < cap(sm.ring) {
		sm.ring = append(sm.ring, r)
		return
	}
	sm.ring[sm.next] = r
	sm.next = (sm.next + 1) % len(sm.ring)
}

// stop stops sampling for good and waits for the goroutine, which ends at
// once.
func (sm *sampler) stop() {
	sm.mu.Lock()
	prev := sm.state
	sm.state = samplerStopped
	sm.mu.Unlock()
	if prev == samplerRunning {
		close(sm.quit)
		<-sm.done
	}
}

// samples returns the samples kept, oldest first.
func (sm *sampler) samples() []sample {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	out := make([]sample, 0, len(sm.ring)+1)
	out = append(out, sm.ring[sm.next:]...)
	return append(out, sm.ring[:sm.next]...)
}

// AdminPage returns an HTML page for operators: the server's counts, the
// last five minutes of live sessions, steps per second and refusals per
// second drawn as small charts, and a table of the live sessions, most
// recently used first (hashed ID, age, idle time, path, busy or waiting
// for its browser, and what each exposes with [Session.Expose]). The page
// reloads itself every two seconds. It serves GET and HEAD at whatever
// path it is mounted on.
//
// The first call starts the sampler behind the charts: a goroutine that
// reads the counters once a second into a ring of five minutes, until
// [Server.Shutdown] or [Server.Close] stops it. The page is never mounted
// by default; mount it where only operators reach it (the example
// programs serve it on -admin, a loopback address): exposed values may be
// secrets from the sessions' own users.
func (s *Server) AdminPage() http.Handler {
	s.sampler.start(s)
	return http.HandlerFunc(s.serveAdmin)
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	v := s.adminView()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodHead {
		return
	}
	if err := adminTemplate.Execute(w, v); err != nil {
		s.logger.Error("continuity: admin page", "err", err)
	}
}

// The page's view.
type adminView struct {
	Refresh  int
	Now      string
	Metrics  Metrics
	Ended    uint64
	Refused  uint64 // refusals so far
	Charts   []chart
	Sessions []sessionRow
	More     int // sessions beyond adminRows
	Busy     int
	Topics   []observedTopicCount
	Meters   string
	Watchers int
	Sampling bool
	Window   string // the span the charts show
}

type sessionRow struct {
	ID, Age, Idle, Path string
	Busy                bool
	Queued              int
	Exposed             []exposedValue
}

type exposedValue struct{ Name, JSON string }

// A chart is one small inline SVG line chart of the last minutes.
type chart struct {
	ID, Title string
	Now, Max  string
	Line      string // the path of the line
	Area      string // the same, closed along the bottom
}

// chart geometry, in SVG user units
const (
	chartW   = 300.0
	chartH   = 64.0
	chartPad = 3.0
)

func (s *Server) adminView() adminView {
	now := s.reading()
	hist := s.sampler.samples()
	// Rates are over whole seconds, between samples; until there are two,
	// over the time since the first.
	rates := hist
	if len(rates) < 2 {
		rates = append(hist[:len(hist):len(hist)], now)
	}
	hist = append(hist, now)
	// The charts span the history kept, five minutes once full, and at
	// least ten seconds.
	window := min(max(now.at.Sub(hist[0].at), 10*time.Second), sampleCount*sampleEvery)
	if len(hist) > sampleCount {
		window = sampleCount * sampleEvery // the ring is full
	}
	x := func(t time.Time) float64 {
		return math.Max(0, math.Min(chartW, chartW*(1-now.at.Sub(t).Seconds()/window.Seconds())))
	}
	m := s.Metrics()
	v := adminView{
		Refresh: 2,
		Now:     now.at.Format("15:04:05"),
		Metrics: m,
		Refused: now.refused,
		Charts: []chart{
			gaugeChart("live", "Sessions live", hist, x, func(x sample) float64 { return float64(x.live) }),
			rateChart("steps", "Steps per second", rates, x, func(x sample) uint64 { return x.served }),
			rateChart("refusals", "Refusals per second", rates, x, func(x sample) uint64 { return x.refused }),
		},
		Topics:   s.topicWaiters(),
		Watchers: s.progress.Watchers(),
		Sampling: len(hist) > 2,
		Window:   windowLabel(window),
	}
	for _, n := range m.SessionsEnded {
		v.Ended += n
	}
	v.Meters = "–"
	if n, ok := s.progress.Meters(); ok {
		v.Meters = strconv.Itoa(n)
	}
	list := s.Inspect()
	if len(list) > adminRows {
		v.More = len(list) - adminRows
		list = list[:adminRows]
	}
	for _, in := range list {
		row := sessionRow{
			ID:     in.ID,
			Age:    shortDuration(in.AgeSeconds),
			Idle:   shortDuration(in.IdleSeconds),
			Path:   in.Path,
			Busy:   in.Queued > 0,
			Queued: max(in.Queued-1, 0),
		}
		if row.Busy {
			v.Busy++
		}
		names := make([]string, 0, len(in.Exposed))
		for name := range in.Exposed {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			row.Exposed = append(row.Exposed, exposedValue{name, clip(readableJSON(in.Exposed[name]), 120)})
		}
		v.Sessions = append(v.Sessions, row)
	}
	return v
}

// gaugeChart draws a value read at each sample.
func gaugeChart(id, title string, hist []sample, x func(time.Time) float64, f func(sample) float64) chart {
	xs := make([]float64, len(hist))
	ys := make([]float64, len(hist))
	for i, h := range hist {
		xs[i], ys[i] = x(h.at), f(h)
	}
	c := draw(id, title, xs, ys)
	c.Now = strconv.FormatFloat(ys[len(ys)-1], 'f', -1, 64)
	return c.chart
}

// rateChart draws a counter's rate between consecutive samples, as steps:
// each rate holds over the second it was measured in.
func rateChart(id, title string, hist []sample, x func(time.Time) float64, f func(sample) uint64) chart {
	var xs, ys []float64
	last := 0.0
	for i := 1; i < len(hist); i++ {
		dt := hist[i].at.Sub(hist[i-1].at).Seconds()
		rate := 0.0
		if dt > 0 {
			rate = float64(f(hist[i])-f(hist[i-1])) / dt
		}
		xs = append(xs, x(hist[i-1].at), x(hist[i].at))
		ys = append(ys, rate, rate)
		last = rate
	}
	c := draw(id, title, xs, ys)
	c.Now = rate(last)
	c.Max = rate(c.max)
	return c.chart
}

// rate shows a rate per second: whole when large or whole, else to a
// tenth.
func rate(v float64) string {
	if v >= 10 || v == math.Trunc(v) {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
}

// windowLabel names the span of time the charts show.
func windowLabel(d time.Duration) string {
	if d >= time.Minute && d%time.Minute < time.Second {
		return fmt.Sprintf("last %d min", int(d/time.Minute))
	}
	return "last " + shortDuration(d.Seconds())
}

// drawn is a chart with the largest value it shows.
type drawn struct {
	chart
	max float64
}

func draw(id, title string, xs, ys []float64) drawn {
	top := 0.0
	for _, y := range ys {
		top = math.Max(top, y)
	}
	scale := 1.0
	if top > 0 {
		scale = (chartH - 2*chartPad) / top
	}
	var line strings.Builder
	for i := range xs {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&line, "%s%.1f %.1f", cmd, xs[i], chartH-chartPad-ys[i]*scale)
	}
	c := drawn{chart: chart{ID: id, Title: title, Line: line.String()}, max: top}
	if len(xs) > 0 {
		c.Area = fmt.Sprintf("%sL%.1f %.1fL%.1f %.1fZ", c.Line, xs[len(xs)-1], chartH, xs[0], chartH)
	}
	c.Max = strconv.FormatFloat(top, 'f', -1, 64)
	return c
}

// shortDuration shows a number of seconds as a short duration: 42s, 3m07s, 2h05m.
func shortDuration(sec float64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	default:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
}

// readableJSON is raw as a person reads it: without the \u003c escapes
// json.Marshal puts in for HTML, since the page escapes it itself.
func readableJSON(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(raw)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return string(raw)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

var adminTemplate = template.Must(template.New("admin").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>continuity admin</title>
<style>
:root{--fg:#1d2433;--muted:#667085;--line:#e4e7ec;--bg:#f7f8fa;--card:#fff;--accent:#2f6fde;--warn:#d9480f;--ok:#2b8a3e;--busy:#e8890c}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:baseline;gap:1em;padding:14px 24px;background:#1d2433;color:#fff}
header h1{margin:0;font-size:17px;font-weight:600}
header .time{margin-left:auto;color:#b8c0cc;font-variant-numeric:tabular-nums}
main{padding:18px 24px;max-width:1200px}
.totals{display:flex;flex-wrap:wrap;gap:8px 22px;margin:0 0 16px;color:var(--muted)}
.totals b{color:var(--fg);font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:14px;margin-bottom:20px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px 6px}
.card h2{margin:0;font-size:13px;font-weight:600;color:var(--muted);display:flex;justify-content:space-between}
.card .now{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.card .max{font-size:12px;color:var(--muted)}
svg{display:block;width:100%;height:64px}
#chart-live .line{stroke:var(--accent)} #chart-live .area{fill:var(--accent)}
#chart-steps .line{stroke:var(--ok)} #chart-steps .area{fill:var(--ok)}
#chart-refusals .line{stroke:var(--warn)} #chart-refusals .area{fill:var(--warn)}
.line{fill:none;stroke-width:1.6;vector-effect:non-scaling-stroke}
.area{opacity:.12;stroke:none}
.axis{stroke:var(--line);stroke-width:1}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{padding:6px 10px;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;font-weight:600;color:var(--muted);background:#fafbfc}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
td.id,td.path,code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.state{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.state.busy{background:#fff1db;color:#a35a00}
.state.waiting{background:#e6f4ea;color:var(--ok)}
.exposed code{display:inline-block;background:#f2f4f7;border-radius:4px;padding:0 5px;margin:0 4px 2px 0}
.empty{color:var(--muted);text-align:center;padding:18px}
.note{color:var(--muted);font-size:12px;margin-top:8px}
</style>
</head>
<body>
<header><h1>continuity</h1><span>live sessions</span><span class="time">{{.Now}}</span></header>
<main>
<div class="totals">
<span>live <b id="live">{{.Metrics.LiveSessions}}</b></span>
<span>busy <b>{{.Busy}}</b></span>
<span>requests in sessions <b>{{.Metrics.WaitingRequests}}</b></span>
<span>created <b>{{.Metrics.SessionsCreated}}</b></span>
<span>ended <b>{{.Ended}}</b></span>
<span>evicted <b>{{.Metrics.SessionsEvicted}}</b></span>
<span>refusals <b id="refusals">{{.Refused}}</b></span>
<span>progress meters <b>{{.Meters}}</b>, watchers <b>{{.Watchers}}</b></span>
{{range .Topics}}<span>topic {{.Name}} waiters <b>{{.Waiters}}</b></span>
{{end}}<span>goroutines <b>{{.Metrics.Goroutines}}</b></span>
{{if .Metrics.Draining}}<span><b style="color:var(--warn)">draining</b></span>{{end}}
</div>
<section class="charts">
{{range .Charts}}<div class="card" id="chart-{{.ID}}">
<h2><span>{{.Title}}</span><span class="max">max {{.Max}} · {{$.Window}}</span></h2>
<div class="now">{{.Now}}</div>
<svg viewBox="0 0 300 64" preserveAspectRatio="none" role="img" aria-label="{{.Title}}, {{$.Window}}">
<line class="axis" x1="0" y1="63.5" x2="300" y2="63.5"/>
<path class="area" d="{{.Area}}"/>
<path class="line" d="{{.Line}}"/>
</svg>
</div>
{{end}}</section>
<table id="sessions">
<thead><tr><th>session (hashed)</th><th>age</th><th>idle</th><th>path</th><th>state</th><th>exposed</th></tr></thead>
<tbody>
{{range .Sessions}}<tr class="session">
<td class="id">{{.ID}}</td>
<td class="num">{{.Age}}</td>
<td class="num">{{.Idle}}</td>
<td class="path">{{.Path}}</td>
<td>{{if .Busy}}<span class="state busy">busy{{if .Queued}} +{{.Queued}} queued{{end}}</span>{{else}}<span class="state waiting">waiting</span>{{end}}</td>
<td class="exposed">{{range .Exposed}}<code>{{.Name}} = {{.JSON}}</code>{{end}}</td>
</tr>
{{else}}<tr><td class="empty" colspan="6">No live sessions.</td></tr>
{{end}}</tbody>
</table>
{{if .More}}<p class="note">and {{.More}} more, least recently used; the JSON listing has them all.</p>{{end}}
<p class="note">Busy: handling a request (with any queued behind it). Waiting: waiting in Next for its browser's next request. {{if not .Sampling}}The charts fill in as the sampler reads the counters, once a second.{{end}}</p>
</main>
</body>
</html>
`))
