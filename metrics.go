package continuity

import (
	"encoding/json"
	"expvar"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/continuity-go/continuity/internal/handoff"
)

// counters are the server's request counters: one atomic add per request.
type counters struct {
	served, retried, queueFull, queueTimeout, responseTimeout atomic.Uint64
	clientGone, panicked                                      atomic.Uint64
	static, progress, methodNotAllowed, tooLarge, badRequest  atomic.Uint64
	forbidden, full, draining, rateLimited, shuttingDown      atomic.Uint64
}

func (c *counters) outcome(o handoff.Outcome) {
	switch o {
	case handoff.Served:
		c.served.Add(1)
	case handoff.Retry:
		c.retried.Add(1)
	case handoff.QueueFull:
		c.queueFull.Add(1)
	case handoff.QueueTimeout:
		c.queueTimeout.Add(1)
	case handoff.ResponseTimeout:
		c.responseTimeout.Add(1)
	case handoff.ClientGone:
		c.clientGone.Add(1)
	case handoff.Panicked, handoff.Aborted:
		c.panicked.Add(1)
	}
}

// Metrics is a snapshot of what the server holds and has done.
type Metrics struct {
	// Sessions
	LiveSessions    int               `json:"live_sessions"`
	WaitingRequests int               `json:"waiting_requests"` // being handled or queued
	SessionsCreated uint64            `json:"sessions_created"`
	SessionsEvicted uint64            `json:"sessions_evicted"`
	SessionsRefused uint64            `json:"sessions_refused"` // at the cap, all busy
	SessionsEnded   map[string]uint64 `json:"sessions_ended"`   // by reason
	Draining        bool              `json:"draining"`

	// Requests by outcome
	Requests map[string]uint64 `json:"requests"`

	// Process
	Goroutines int    `json:"goroutines"`
	HeapBytes  uint64 `json:"heap_bytes"`
}

// Metrics returns the server's counters and gauges.
func (s *Server) Metrics() Metrics {
	st := s.mapper.Stats()
	c := &s.counts
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	var heap uint64
	if sample[0].Value.Kind() == metrics.KindUint64 {
		heap = sample[0].Value.Uint64()
	}
	return Metrics{
		LiveSessions:    st.Live,
		WaitingRequests: st.Waiting,
		SessionsCreated: st.Created,
		SessionsEvicted: st.Evicted,
		SessionsRefused: st.Refused,
		SessionsEnded:   st.Ended,
		Draining:        s.draining.Load(),
		Requests: map[string]uint64{
			"served":             c.served.Load(),
			"retried":            c.retried.Load(),
			"queue_full":         c.queueFull.Load(),
			"queue_timeout":      c.queueTimeout.Load(),
			"response_timeout":   c.responseTimeout.Load(),
			"client_gone":        c.clientGone.Load(),
			"panicked":           c.panicked.Load(),
			"static":             c.static.Load(),
			"progress":           c.progress.Load(),
			"method_not_allowed": c.methodNotAllowed.Load(),
			"too_large":          c.tooLarge.Load(),
			"bad_request":        c.badRequest.Load(),
			"forbidden":          c.forbidden.Load(),
			"sessions_full":      c.full.Load(),
			"draining":           c.draining.Load(),
			"rate_limited":       c.rateLimited.Load(),
			"shutting_down":      c.shuttingDown.Load(),
		},
		Goroutines: runtime.NumGoroutine(),
		HeapBytes:  heap,
	}
}

// Expvar returns the metrics as an expvar.Func, for the caller to publish
// under a name of its choosing: expvar.Publish("continuity", srv.Expvar()).
// (The library publishes nothing itself: expvar's names are global.)
func (s *Server) Expvar() expvar.Func { return func() any { return s.Metrics() } }

// MetricsHandler serves the metrics as JSON. Mount it where your
// operators, not the public, can reach it.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Metrics())
	})
}

// SessionInfo describes a live session for the admin listing. ID is a
// keyed hash of the session ID, never the ID itself.
type SessionInfo struct {
	ID          string  `json:"id"`
	AgeSeconds  float64 `json:"age_seconds"`
	IdleSeconds float64 `json:"idle_seconds"`
	Path        string  `json:"path"`
	Queued      int     `json:"queued"`
}

// Sessions lists the live sessions, most recently used first.
func (s *Server) Sessions() []SessionInfo {
	now := time.Now()
	list := s.mapper.Sessions()
	out := make([]SessionInfo, 0, len(list))
	for _, sess := range list {
		out = append(out, SessionInfo{
			ID:          sess.LogID(),
			AgeSeconds:  now.Sub(sess.Created()).Seconds(),
			IdleSeconds: max(now.Sub(sess.LastSeen()).Seconds(), 0),
			Path:        sess.Path(),
			Queued:      sess.Queued(),
		})
	}
	return out
}

// AdminHandler serves the live sessions as JSON: hashed ID, age, idle
// time, current path and queued requests. It is never mounted by default;
// mount it behind your own authentication.
func (s *Server) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"sessions": s.Sessions(), "metrics": s.Metrics()})
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
