package demo

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// The examples' log bound: of records alike (same level, message and
// "reason"), at most LogBurst are written in full per LogSummaryInterval;
// the rest are counted, and one line at the interval's end says how many.
// A flood of evictions then writes a few lines every ten seconds, not
// one per session (22 MB in 30 seconds before), while a quiet server
// still logs each session's end with its id.
const (
	LogSummaryInterval = 10 * time.Second
	LogBurst           = 10
)

// maxLogKeys bounds the kinds of record tracked at once. Beyond it a
// record is keyed by level and message alone, so that reasons made of
// request data cannot grow the table without bound.
const maxLogKeys = 256

// NewLogger returns the examples' logger, a text logger on w whose storms
// are summarised (see [LogSummaryInterval]), and a flush function that
// writes the summaries still pending and stops their timers: call it once
// the server has shut down, so the last counts are not lost.
func NewLogger(w io.Writer) (*slog.Logger, func()) {
	h := newSummary(slog.NewTextHandler(w, nil), LogSummaryInterval, LogBurst)
	return slog.New(h), h.s.flush
}

// summaryHandler is a slog.Handler that passes records to its inner
// handler until a kind of record comes too often, then counts them. It
// starts no goroutine of its own: a window's end is a time.AfterFunc,
// which runs only to write the summary, and flush stops the pending ones.
type summaryHandler struct {
	inner slog.Handler
	s     *summary // shared by the handlers WithAttrs and WithGroup derive
}

type summary struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	windows map[logKey]*logWindow
	closed  bool
}

type logKey struct {
	level  slog.Level
	msg    string
	reason string
}

// A logWindow counts one kind of record from its first for s.every.
type logWindow struct {
	start   time.Time
	inner   slog.Handler // the first record's, which writes the summary
	written int
	counted int
	timer   *time.Timer
}

func newSummary(inner slog.Handler, every time.Duration, burst int) *summaryHandler {
	return &summaryHandler{inner: inner, s: &summary{every: every, burst: burst, windows: make(map[logKey]*logWindow)}}
}

func (h *summaryHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *summaryHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &summaryHandler{inner: h.inner.WithAttrs(as), s: h.s}
}

func (h *summaryHandler) WithGroup(name string) slog.Handler {
	return &summaryHandler{inner: h.inner.WithGroup(name), s: h.s}
}

func (h *summaryHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.s.admit(h.inner, r) {
		return h.inner.Handle(ctx, r)
	}
	return nil
}

// admit reports whether r is written in full; if not, it is counted.
func (s *summary) admit(inner slog.Handler, r slog.Record) bool {
	k := logKey{level: r.Level, msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			k.reason = a.Value.String()
			return false
		}
		return true
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true
	}
	w := s.windows[k]
	if w == nil && len(s.windows) >= maxLogKeys {
		k.reason = ""
		w = s.windows[k]
	}
	if w == nil {
		w = &logWindow{start: time.Now(), inner: inner}
		s.windows[k] = w
		w.timer = time.AfterFunc(s.every, func() { s.end(k, w) })
	}
	if w.written < s.burst {
		w.written++
		return true
	}
	w.counted++
	return false
}

// end closes k's window w and writes its summary, if it counted any.
func (s *summary) end(k logKey, w *logWindow) {
	s.mu.Lock()
	if s.windows[k] != w {
		s.mu.Unlock()
		return // flushed meanwhile
	}
	delete(s.windows, k)
	s.mu.Unlock()
	s.write(k, w)
}

// flush writes every pending summary now and stops the windows' timers;
// records logged after it are written in full.
func (s *summary) flush() {
	s.mu.Lock()
	ws := s.windows
	s.windows = nil
	s.closed = true
	s.mu.Unlock()
	for k, w := range ws {
		w.timer.Stop()
		s.write(k, w)
	}
}

// write logs "MSG reason=R repeated=N window=D": N more records like the
// first of the window were left out during D.
func (s *summary) write(k logKey, w *logWindow) {
	if w.counted == 0 {
		return
	}
	now := time.Now()
	r := slog.NewRecord(now, k.level, k.msg, 0)
	if k.reason != "" {
		r.AddAttrs(slog.String("reason", k.reason))
	}
	r.AddAttrs(slog.Int("repeated", w.counted), slog.Duration("window", now.Sub(w.start).Round(time.Millisecond)))
	_ = w.inner.Handle(context.Background(), r)
}
