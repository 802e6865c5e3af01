package continuity

import (
	"encoding/json"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/continuity-go/continuity/internal/handoff"
)

// reqOutcome is how the server disposed of a request, as counted in
// [Metrics].Requests and the continuity.requests metric; crossSite and
// retried are counted beside the outcome, not as one.
type reqOutcome uint8

const (
	oServed reqOutcome = iota
	oRetried
	oQueueFull
	oQueueTimeout
	oResponseTimeout
	oClientGone
	oPanicked
	oStatic
	oProgress
	oMethodNotAllowed
	oTooLarge
	oBadRequest
	oForbidden
	oFull
	oDraining
	oRateLimited
	oShuttingDown
	oCrossSite
	numOutcomes
)

// String is the outcome's name in Metrics().Requests and in telemetry.
func (o reqOutcome) String() string {
	switch o {
	case oServed:
		return "served"
	case oRetried:
		return "retried"
	case oQueueFull:
		return "queue_full"
	case oQueueTimeout:
		return "queue_timeout"
	case oResponseTimeout:
		return "response_timeout"
	case oClientGone:
		return "client_gone"
	case oPanicked:
		return "panicked"
	case oStatic:
		return "static"
	case oProgress:
		return "progress"
	case oMethodNotAllowed:
		return "method_not_allowed"
	case oTooLarge:
		return "too_large"
	case oBadRequest:
		return "bad_request"
	case oForbidden:
		return "forbidden"
	case oFull:
		return "sessions_full"
	case oDraining:
		return "draining"
	case oRateLimited:
		return "rate_limited"
	case oShuttingDown:
		return "shutting_down"
	case oCrossSite:
		return "cross_site"
	}
	return "other"
}

// refusal reports whether the outcome is the server turning a request
// away for want of capacity (503 or 429), as the admin page charts them.
func (o reqOutcome) refusal() bool {
	switch o {
	case oQueueFull, oQueueTimeout, oResponseTimeout, oFull, oDraining, oRateLimited, oShuttingDown:
		return true
	}
	return false
}

// counters are the server's request counters: one atomic add per request.
type counters struct{ n [numOutcomes]atomic.Uint64 }

// count counts a request's outcome. w is the ResponseWriter the request
// is answered through: when telemetry is recording the request, it is the
// request's step, which learns its outcome here.
func (s *Server) count(w http.ResponseWriter, o reqOutcome) {
	s.counts.n[o].Add(1)
	if st, ok := w.(*step); ok && o != oCrossSite && o != oRetried {
		st.outcome, st.hasOutcome = o, true
	}
}

// countHandoff counts the outcome of a session's Handle.
func (s *Server) countHandoff(w http.ResponseWriter, o handoff.Outcome) {
	switch o {
	case handoff.Served:
		s.count(w, oServed)
	case handoff.Retry:
		s.count(w, oRetried)
	case handoff.QueueFull:
		s.count(w, oQueueFull)
	case handoff.QueueTimeout:
		s.count(w, oQueueTimeout)
	case handoff.ResponseTimeout:
		s.count(w, oResponseTimeout)
	case handoff.ClientGone:
		s.count(w, oClientGone)
	case handoff.Panicked, handoff.Aborted:
		s.count(w, oPanicked)
	}
}

// Metrics is a snapshot of what the server holds and has done; see
// [Server.Metrics]. Its JSON form is what [Server.MetricsHandler] serves.
type Metrics struct {
	// Sessions
	LiveSessions    int    `json:"live_sessions"`
	WaitingRequests int    `json:"waiting_requests"` // being handled or queued
	SessionsCreated uint64 `json:"sessions_created"`
	SessionsEvicted uint64 `json:"sessions_evicted"`
	SessionsRefused uint64 `json:"sessions_refused"` // at the cap, all busy
	// SessionsClientRefused counts new sessions refused because their
	// client was over its share (MaxSessionsPerClient, MaxBusyPerClient).
	SessionsClientRefused uint64            `json:"sessions_client_refused"`
	SessionsEnded         map[string]uint64 `json:"sessions_ended"` // by reason
	Draining              bool              `json:"draining"`

	// Requests by outcome
	Requests map[string]uint64 `json:"requests"`

	// Process
	Goroutines int    `json:"goroutines"`
	HeapBytes  uint64 `json:"heap_bytes"`
}

// Metrics returns a snapshot of the server's counters and gauges: sessions
// live, waiting, created, evicted, refused and ended (by reason), requests
// by outcome, goroutines and heap. It is the way to read them in process
// (tests, health checks, logs); monitoring systems get them through
// OpenTelemetry ([Options].Telemetry), and [Server.AdminPage] and
// [Server.AdminHandler] list the sessions themselves. To publish them with
// expvar, under a name of your choosing (the library publishes nothing,
// since expvar's names are process-wide):
//
//	expvar.Publish("continuity", expvar.Func(func() any { return srv.Metrics() }))
func (s *Server) Metrics() Metrics {
	st := s.mapper.Stats()
	requests := make(map[string]uint64, numOutcomes)
	for o := range numOutcomes {
		requests[o.String()] = s.counts.n[o].Load()
	}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	var heap uint64
	if sample[0].Value.Kind() == metrics.KindUint64 {
		heap = sample[0].Value.Uint64()
	}
	return Metrics{
		LiveSessions:          st.Live,
		WaitingRequests:       st.Waiting,
		SessionsCreated:       st.Created,
		SessionsEvicted:       st.Evicted,
		SessionsRefused:       st.Refused,
		SessionsClientRefused: st.ClientRefused,
		SessionsEnded:         st.Ended,
		Draining:              s.draining.Load(),
		Requests:              requests,
		Goroutines:            runtime.NumGoroutine(),
		HeapBytes:             heap,
	}
}

// MetricsHandler serves [Server.Metrics] as JSON, for monitoring systems
// that scrape a URL. Mount it where your operators, not the public, can
// reach it.
//
// Deprecated: monitoring systems get the same and more through
// OpenTelemetry ([Options].Telemetry), in Prometheus's format with
// OpenTelemetry's Prometheus exporter; programs read [Server.Metrics]
// (or publish it with expvar). It stays for the programs that mount it.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Metrics())
	})
}

// SessionInfo is one live session in the JSON listing that
// [Server.AdminHandler] serves and [Server.Inspect] returns. ID is a keyed
// hash of the session ID (the LogID of the logs), never the ID itself.
// Exposed is what the session chose to show with [Session.Expose], each
// value JSON as it was when exposed.
type SessionInfo struct {
	ID          string                     `json:"id"`
	AgeSeconds  float64                    `json:"age_seconds"`
	IdleSeconds float64                    `json:"idle_seconds"`
	Path        string                     `json:"path"`
	Queued      int                        `json:"queued"`
	Exposed     map[string]json.RawMessage `json:"exposed,omitempty"`
}

// sessions lists the live sessions, most recently used first.
func (s *Server) sessions() []SessionInfo {
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
			Exposed:     (*Session)(sess).Exposed(),
		})
	}
	return out
}

// AdminHandler serves the live sessions as JSON, {"sessions": [...]} with a
// [SessionInfo] each (hashed ID, age, idle time, current path, queued
// requests, and the values it exposes with [Session.Expose]), most
// recently used first: the listing of [Server.AdminPage] for scripts and
// tools, which metrics cannot carry (they have no per-session series). It
// is never mounted by default; mount it behind your own authentication.
func (s *Server) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"sessions": s.sessions()})
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
