package progress

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/continuity-go/continuity/internal/jsonstr"
	"github.com/continuity-go/continuity/request"
)

// Defaults for the zero values of [Options].
const (
	DefaultMaxWait     = 30 * time.Second
	DefaultKeepAlive   = 15 * time.Second
	DefaultMaxMessages = 100
	DefaultMaxWatchers = 16
)

// retryAfter is the Retry-After, in seconds, of a watcher refused for
// being one too many: about when another has had time to end.
const retryAfter = "5"

// writeGrace is added to write deadlines: a client that reads nothing for
// this long after a response is due is dropped.
const writeGrace = 30 * time.Second

// Options configure a [Handler]. The zero value is the default.
type Options struct {
	// Store keeps the meters. Default: a [MemoryStore] with Retention.
	Store Store
	// Retention is how long finished meters stay readable before they are
	// freed, when Store is nil. Default 5 minutes; negative keeps them
	// until their session ends.
	Retention time.Duration
	// MaxWait bounds a long-poll's wait. Default 30s; negative turns
	// long-polling off (requests are answered at once).
	MaxWait time.Duration
	// KeepAlive is how often an idle Server-Sent Events stream gets a
	// comment, so that proxies and browsers keep it open. Default 15s.
	KeepAlive time.Duration
	// MaxMessages bounds the messages a meter keeps; older ones are
	// dropped. Default 100.
	MaxMessages int
	// MaxWatchers bounds the long-polls and event streams that wait at
	// once on the meters of one session; one more is answered 429 Too
	// Many Requests, with Retry-After. Requests answered at once do not
	// count. Default 16.
	MaxWatchers int
	// MaxMeters bounds the meters held across all sessions when Store is
	// nil: see [MemoryOptions].MaxMeters. [Start] beyond it fails with
	// [ErrFull]. Default 10,000.
	MaxMeters int
	// MaxBytes bounds the memory the meters hold across all sessions when
	// Store is nil: see [MemoryOptions].MaxBytes. Default 64 MiB.
	MaxBytes int64
}

// A Handler is the server's side of the meters: it answers the status
// endpoint and is where [Start] finds the store. A continuity server makes
// one from its Options.Progress, shares it with its sessions under the key
// (*Handler)(nil), and shuts it down with itself; applications never need
// one. It is safe for concurrent use. Its only goroutine finishes meters
// dropped without [Meter.Done], runs only while there are some, and is
// ended by [Handler.Shutdown].
type Handler struct {
	store     Store
	maxWait   time.Duration
	keepAlive time.Duration
	maxMsgs   int
	maxWatch  int
	watching  atomic.Int64
	jan       *janitor
}

// New returns a Handler with the options o.
func New(o Options) *Handler {
	h := &Handler{
		store:     o.Store,
		maxWait:   o.MaxWait,
		keepAlive: o.KeepAlive,
		maxMsgs:   o.MaxMessages,
		maxWatch:  o.MaxWatchers,
		jan:       newJanitor(),
	}
	if h.store == nil {
		h.store = NewMemoryStore(MemoryOptions{Retention: o.Retention, MaxMeters: o.MaxMeters, MaxBytes: o.MaxBytes})
	}
	if h.maxWatch <= 0 {
		h.maxWatch = DefaultMaxWatchers
	}
	switch {
	case h.maxWait == 0:
		h.maxWait = DefaultMaxWait
	case h.maxWait < 0:
		h.maxWait = 0
	}
	if h.keepAlive <= 0 {
		h.keepAlive = DefaultKeepAlive
	}
	if h.maxMsgs <= 0 {
		h.maxMsgs = DefaultMaxMessages
	}
	return h
}

// Shutdown waits, until ctx is done, for the store calls that finish
// meters dropped without [Meter.Done] (made on a goroutine of the
// Handler's, started only while there are some), then cancels those still
// running. It returns ctx's error if ctx ended first. A server calls it as
// it shuts down, after its sessions have ended.
func (h *Handler) Shutdown(ctx context.Context) error { return h.jan.shutdown(ctx) }

// watchers is the number of long-polls and event streams waiting now.
func (h *Handler) watchers() int { return int(h.watching.Load()) }

// attach ties sess to h, as if h were the Handler the server shares: for
// tests, whose sessions come from no server.
func (h *Handler) attach(sess *request.Session) { bind(sess, h) }

// ServeStatus answers a status request, r, for the meter name (the path
// after /_progress_status/) of sess, the session the request belongs to,
// or nil if it has none. It never touches the session's goroutine. It
// answers, with Cache-Control: no-store:
//
//   - 200 with the meter's JSON, at once, after a long-poll, or as an event
//     stream (see the package documentation);
//   - 204 to an event stream resuming after the final state, which tells
//     EventSource to stop reconnecting;
//   - 404 {"error":"not found"} for an invalid name, no session, a meter
//     not in sess (whoever else owns it), or one freed;
//   - 429 {"error":"too many watchers for this session"}, with
//     Retry-After, to a long-poll or event stream that would wait while
//     the session has [Options].MaxWatchers waiting already;
//   - 400 for malformed since, version or wait parameters; 405 for methods
//     other than GET and HEAD.
func (h *Handler) ServeStatus(w http.ResponseWriter, r *http.Request, sess *request.Session, name string) {
	hdr := w.Header()
	hdr["Cache-Control"] = noStore
	hdr["X-Content-Type-Options"] = noSniff
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	q := r.URL.Query()
	p, ok := h.parse(q, r)
	if !ok {
		writeError(w, http.StatusBadRequest, "bad request")
		return
	}
	key, err := meterKey(name, q.Get(IDParam))
	if err != nil || sess == nil {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	b := bindingOf(sess)
	if b == nil {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	// Read through the store of the Handler answering, the node's own:
	// the session's binding may name another Handler's (a session handed
	// over from another node of the deployment).
	snap, err := h.store.Get(r.Context(), b.scope, key)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	wt := watch{h: h, w: w, r: r, sess: sess, b: b, key: key}
	switch {
	case r.Method == http.MethodHead:
	case p.sse:
		wt.stream(snap, p)
		return
	case p.poll:
		var ok bool
		if snap, ok = wt.longPoll(snap, p); !ok || r.Context().Err() != nil {
			return // refused, or nobody to answer
		}
	}
	writeSnapshot(w, &snap)
}

// params are a status request's transport parameters.
type params struct {
	sse        bool
	poll       bool
	since      int
	hasSince   bool
	version    uint64
	hasVersion bool
	wait       time.Duration
	lastID     uint64
	hasLastID  bool
}

func (h *Handler) parse(q url.Values, r *http.Request) (params, bool) {
	var p params
	var err error
	if v := q.Get("since"); v != "" {
		if p.since, err = strconv.Atoi(v); err != nil {
			return p, false
		}
		p.hasSince = true
	}
	if v := q.Get("version"); v != "" {
		if p.version, err = strconv.ParseUint(v, 10, 64); err != nil {
			return p, false
		}
		p.hasVersion = true
	}
	p.wait = h.maxWait
	if v, ok := q["wait"]; ok {
		if p.wait, ok = parseWait(v[0]); !ok {
			return p, false
		}
		p.wait = min(p.wait, h.maxWait)
	}
	p.poll = p.hasSince || p.hasVersion || q.Has("wait")
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		p.sse = true
		// EventSource resends the last id it saw; a malformed one is
		// ignored, as if the stream were new.
		if v := r.Header.Get("Last-Event-ID"); v != "" {
			p.lastID, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			p.hasLastID = err == nil
		}
	}
	return p, true
}

// parseWait reads a wait: seconds ("2", "0.5") or a Go duration ("2s",
// "500ms"). Negative waits are zero.
func parseWait(v string) (time.Duration, bool) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case math.IsNaN(f):
			return 0, false
		case f <= 0:
			return 0, true
		case f >= math.MaxInt64/float64(time.Second):
			return math.MaxInt64, true
		}
		return time.Duration(f * float64(time.Second)), true
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, false
	}
	return max(d, 0), true
}

// watch is one waiting status request.
type watch struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	sess *request.Session
	b    *binding
	key  string
}

// admit counts the watch against its session's watchers, or, when the
// session has as many as it may, answers 429 and reports false. A watch
// admitted must call leave.
func (wt *watch) admit() bool {
	if int(wt.b.watchers.Add(1)) > wt.h.maxWatch {
		wt.b.watchers.Add(-1)
		wt.w.Header()["Retry-After"] = []string{retryAfter}
		writeError(wt.w, http.StatusTooManyRequests, "too many watchers for this session")
		return false
	}
	return true
}

func (wt *watch) leave() { wt.b.watchers.Add(-1) }

// context returns a context that ends when the client goes, when the
// session ends (which includes server shutdown), or after d if d > 0.
func (wt *watch) context(d time.Duration) (context.Context, context.CancelFunc) {
	var ctx context.Context
	var cancel context.CancelFunc
	if d > 0 {
		ctx, cancel = context.WithTimeout(wt.r.Context(), d)
	} else {
		ctx, cancel = context.WithCancel(wt.r.Context())
	}
	stop := context.AfterFunc(wt.sess.Context(), cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// changes waits in the store for states after version after.
func (wt *watch) changes(ctx context.Context, after uint64) ([]Snapshot, error) {
	wt.h.watching.Add(1)
	defer wt.h.watching.Add(-1)
	return wt.h.store.Changes(ctx, wt.b.scope, wt.key, after)
}

// longPoll returns snap at once if it is news to the client (its count is
// not since, its version is not version, or it is finished); else the
// first state after it, or snap again when the wait ends without one (time
// up, client gone, session ended, meter freed). It reports false when it
// refused to wait, having answered.
func (wt *watch) longPoll(snap Snapshot, p params) (Snapshot, bool) {
	if !snap.InProgress || (p.hasSince && snap.Count != p.since) ||
		(p.hasVersion && snap.Version != p.version) || p.wait <= 0 {
		return snap, true
	}
	if !wt.admit() {
		return snap, false
	}
	defer wt.leave()
	ctx, cancel := wt.context(p.wait)
	defer cancel()
	_ = http.NewResponseController(wt.w).SetWriteDeadline(time.Now().Add(p.wait + writeGrace))
	if ch, err := wt.changes(ctx, snap.Version); err == nil {
		return ch[len(ch)-1], true
	}
	return snap, true
}

// stream answers with Server-Sent Events: the states after Last-Event-ID
// (or the current one), then one event per change until the meter
// finishes, the client goes, or the session ends.
func (wt *watch) stream(snap Snapshot, p params) {
	if p.hasLastID && p.lastID == snap.Version && !snap.InProgress {
		// The client has seen the end; 204 stops EventSource.
		wt.w.WriteHeader(http.StatusNoContent)
		return
	}
	if !wt.admit() {
		return
	}
	defer wt.leave()
	var pending []Snapshot
	last := snap.Version
	switch {
	case !p.hasLastID || p.lastID > snap.Version:
		pending = []Snapshot{snap}
	case p.lastID < snap.Version:
		ch, err := wt.changes(wt.r.Context(), p.lastID)
		if err != nil {
			ch = []Snapshot{snap}
		}
		pending = ch
	}
	hdr := wt.w.Header()
	hdr["Content-Type"] = eventStream
	hdr["X-Accel-Buffering"] = no // nginx: do not buffer the stream
	wt.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(wt.w)
	ctx, cancel := wt.context(0)
	defer cancel()

	bp := getBuf()
	defer putBuf(bp)
	buf := append((*bp)[:0], "retry: 2000\n\n"...)
	for {
		done := false
		for i := range pending {
			s := &pending[i]
			buf = append(buf, "id: "...)
			buf = strconv.AppendUint(buf, s.Version, 10)
			buf = append(buf, "\ndata: "...)
			buf = appendSnapshot(buf, s)
			buf = append(buf, "\n\n"...)
			last, done = s.Version, !s.InProgress
		}
		_ = rc.SetWriteDeadline(time.Now().Add(writeGrace))
		if _, err := wt.w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		buf = buf[:0]
		*bp = buf
		if done {
			return
		}
		var err error
		wctx, wcancel := context.WithTimeout(ctx, wt.h.keepAlive)
		pending, err = wt.changes(wctx, last)
		wcancel()
		if err != nil {
			if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
				return // client gone, session ended, meter freed, or store failed
			}
			buf = append(buf, ": keep-alive\n\n"...)
		}
	}
}

// Shared header values; never mutated.
var (
	noStore     = []string{"no-store"}
	noSniff     = []string{"nosniff"}
	jsonType    = []string{"application/json"}
	eventStream = []string{"text/event-stream"}
	no          = []string{"no"}
)

func writeSnapshot(w http.ResponseWriter, s *Snapshot) {
	bp := getBuf()
	defer putBuf(bp)
	b := appendSnapshot((*bp)[:0], s)
	b = append(b, '\n')
	*bp = b
	writeJSON(w, http.StatusOK, b)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	b := make([]byte, 0, 32+len(msg))
	b = append(b, `{"error":`...)
	b = jsonstr.Append(b, msg)
	b = append(b, "}\n"...)
	writeJSON(w, code, b)
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = jsonType
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
