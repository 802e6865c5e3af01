// Package continuity writes stateful web applications as ordinary, linear
// Go functions. A browser's session is a goroutine: the application prints a
// page, calls [Request.Next], and that call blocks until the same browser's
// next request arrives; then the function carries on with all its local
// variables intact.
//
//	func app(r *continuity.Request) {
//		r.Print(`<form>Name: <input name="name"></form>`)
//		name := r.Next().Param("name")
//		r.Printf("Hello, %s!", html.EscapeString(name))
//	}
//
//	srv, err := continuity.New(app, nil)
//	...
//	http.ListenAndServe("localhost:8080", srv)
//
// # Sessions
//
// The server maps each request to its session (a signed cookie by default;
// see [Mode]), hands it to the session goroutine, and waits for the answer.
// A session handles one request at a time; others wait in a bounded queue,
// in arrival order. Sessions end when the application returns, when idle
// past [Options.IdleTimeout], when older than [Options.MaxLifetime], when
// evicted at [Options.MaxSessions], when they leave a request unanswered
// past [Options.ResponseTimeout], or at shutdown; [Request.Next] then ends
// the goroutine (deferred calls run).
//
// # Back button, double submit and tabs
//
// A page that embeds its step's token ([Request.StepField],
// [Request.StepURL]) accepts input only with it, so a reload, a double
// submit, the back button or a second tab cannot feed an old page's input
// to a later step. What a stale request does is [Options.StalePolicy]:
// [Reject] shows the current page again, [Rewind] goes back to the old
// page's step by replaying the flow from its journal, [Fork] gives the old
// page's tab a copy of the flow. Flows with step tokens must be
// replay-safe: see [Once] and [Request.StepToken].
//
// # Serving
//
// A [Server] is an [http.Handler]: mount it in any mux, or call
// [Server.ListenAndServe]. [Server.Shutdown] ends every session and waits
// for their goroutines.
package continuity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/continuity-go/continuity/internal/handoff"
	"github.com/continuity-go/continuity/internal/mapping"
	"github.com/continuity-go/continuity/journal"
	"github.com/continuity-go/continuity/progress"
)

// A Server runs one continuity application: it maps requests to sessions,
// runs a goroutine per session, serves static files, and answers errors
// itself. Create it with [New]; it is safe for concurrent use.
type Server struct {
	opts     Options
	mapper   *mapping.Mapper
	logger   *slog.Logger
	root     *os.Root
	static   func(*http.Request) bool
	progress *progress.Handler
	allow    string // the Allow header for 405s
	methods  []string
	cop      *http.CrossOriginProtection
	timeouts handoff.Timeouts
	maxBody  int64
	maxField int
	byQuery  bool

	// The cross-site rule (crosssite.go): strip the input of requests from
	// other sites, keeping only the ByQuery session parameter.
	stripForeign bool
	keepParam    string

	// Header values shared by every dynamic response; never mutated.
	noStore   []string
	varyCook  []string
	noReferer []string

	closing  atomic.Bool
	draining atomic.Bool
	stopOnce sync.Once
	limiter  *ipLimiter
	counts   counters
	tel      *telemetry // nil: no instrumentation
	topics   topics     // shown by ObserveTopic
	sampler  sampler    // the admin page's history, started by AdminPage
	mu       sync.Mutex
	sharing  *sharing       // nil unless Options.Journal is shared
	servers  []*http.Server // started by Serve/ListenAndServe
	lns      []*pausable    // their listeners
}

// New returns a Server running app for each session. A nil opts means the
// defaults. New returns an error, and starts nothing, if the options are
// invalid or the DocRoot cannot be opened.
func New(app func(*Request), opts *Options) (*Server, error) {
	if app == nil {
		return nil, errors.New("continuity: New: app is nil")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.resolve(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:      o,
		logger:    o.Logger,
		static:    o.Static,
		maxBody:   o.MaxBodyBytes,
		maxField:  o.MaxFormFields,
		byQuery:   o.Mode&ByQuery != 0,
		noStore:   []string{"no-store"},
		varyCook:  []string{"Cookie"},
		noReferer: []string{"no-referrer"},
		progress:  progress.New(o.Progress),
	}
	if !o.InsecureAllowCrossSiteInput {
		s.stripForeign = true
		if s.byQuery {
			s.keepParam = o.QueryParam
		}
	}
	s.tel = newTelemetry(o.Telemetry)
	s.methods = o.Methods
	if len(s.methods) == 0 {
		s.methods = []string{http.MethodGet, http.MethodHead, http.MethodPost}
	}
	for _, m := range s.methods {
		if m == "" || strings.ContainsAny(m, " \t\r\n,") {
			return nil, fmt.Errorf("continuity: New: invalid method %q", m)
		}
	}
	s.allow = strings.Join(s.methods, ", ")
	s.timeouts = handoff.Timeouts{
		Queue:    max(o.QueueTimeout, 0), // negative: no bound
		Response: max(o.ResponseTimeout, 0),
		Write:    max(o.WriteTimeout, 0),
	}
	var budget *handoff.ByteBudget
	if o.MaxQueuedBytesTotal > 0 {
		budget = handoff.NewByteBudget(o.MaxQueuedBytesTotal)
	}
	if !o.InsecureSkipCrossOriginCheck {
		s.cop = http.NewCrossOriginProtection()
	}
	if o.DocRoot != "" {
		root, err := openDocRoot(o.DocRoot)
		if err != nil {
			return nil, err
		}
		s.root = root
	}
	s.sharing = newSharing(&o)
	var takeover func(context.Context, string, *http.Request) (*handoff.Owned, error)
	var own func(context.Context, string) (*handoff.Owned, error)
	if sh := s.sharing; sh != nil {
		takeover, own = sh.takeover, sh.own
	}
	m, err := mapping.New(mapping.Config{
		Takeover:             takeover,
		Own:                  own,
		Mode:                 o.Mode,
		CookieName:           o.CookieName,
		CookiePath:           o.CookiePath,
		CookieSecure:         o.CookieSecure,
		CookieSameSite:       o.CookieSameSite,
		QueryParam:           o.QueryParam,
		Keys:                 o.Keys,
		TrustedProxies:       o.TrustedProxies,
		Identify:             o.Identify,
		NewID:                o.NewID,
		IdleTimeout:          o.IdleTimeout,
		MaxLifetime:          o.MaxLifetime,
		MaxSessions:          o.MaxSessions,
		MaxSessionsPerClient: o.MaxSessionsPerClient,
		MaxBusyPerClient:     o.MaxBusyPerClient,
		Logger:               o.Logger,
		Admit:                s.admit,
		Session: handoff.Options{
			Hooks:               internalHooks(&s.opts.Hooks, s.tel),
			Shared:              map[any]any{(*progress.Handler)(nil): s.progress},
			App:                 func(h *handoff.Handle) { app((*Request)(h)) },
			QueueDepth:          o.QueueDepth,
			MaxQueuedBytes:      max(o.MaxQueuedBytes, 0),
			Budget:              budget,
			Pool:                handoff.NewPool(),
			NoImplicitFirstNext: o.NoImplicitFirstNext,
			Replay:              replayConfig(&o),
		},
	})
	if err != nil {
		if s.root != nil {
			s.root.Close()
		}
		return nil, err
	}
	s.mapper = m
	if s.sharing != nil {
		go s.renew()
	}
	if s.tel != nil {
		s.tel.observe(s, o.Telemetry.MeterProvider)
	}
	if o.NewSessionsPerIP > 0 {
		s.limiter = newIPLimiter(o.NewSessionsPerIP, time.Minute)
	}
	if f := o.Hooks.ServerStart; f != nil {
		s.contain("ServerStart hook", f)
	}
	return s, nil
}

// ServeHTTP routes a request: methods not allowed get 405; progress
// status requests (/_progress_status/NAME) are answered from the meters of
// the request's session, if it has one, without entering the session
// goroutine or creating a session; static files are served from the
// DocRoot without touching any session; everything else is handed to the
// request's session, and ServeHTTP returns once the session has answered
// (called Next, or returned), the client has gone, or a timeout has passed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if st := s.tel.begin(w, r); st != nil {
		s.serveRecorded(st, r)
		return
	}
	s.serve(w, r)
}

// serveRecorded serves a request that telemetry records: through its
// step, which ends with the request (and is recorded even when the
// request is aborted with a panic).
func (s *Server) serveRecorded(st *step, r *http.Request) {
	defer s.tel.end(st)
	s.serve(st, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !s.methodAllowed(r.Method) {
		s.count(w, oMethodNotAllowed)
		w.Header().Set("Allow", s.allow)
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if strings.HasPrefix(r.URL.Path, progressPrefix) {
		s.count(w, oProgress)
		s.serveProgress(w, r)
		return
	}
	if s.static(r) {
		s.count(w, oStatic)
		s.serveStatic(w, r)
		return
	}
	if s.closing.Load() {
		s.count(w, oShuttingDown)
		unavailable(w, "server shutting down")
		return
	}
	h := w.Header()
	h["Cache-Control"] = s.noStore
	if r.Method == http.MethodHead {
		// HEAD must not advance anybody's flow, nor start one.
		h["Content-Type"] = []string{"text/html; charset=utf-8"}
		return
	}
	if s.cop != nil {
		if err := s.cop.Check(r); err != nil {
			s.count(w, oForbidden)
			http.Error(w, "403 forbidden: cross-origin request refused", http.StatusForbidden)
			return
		}
	}
	var lookup mapping.Lookup
	looked := false
	if r.ContentLength != 0 && !s.byQuery {
		// A body that the session's queue would refuse is refused unread.
		// (In ByQuery mode the body itself may name the session.)
		lookup, looked = s.mapper.Lookup(r), true
		if sess, ok := s.mapper.FindLookup(lookup); ok && sess.RefuseUnread(w, r.ContentLength) {
			s.countHandoff(w, handoff.QueueFull)
			return
		}
	}
	if !s.parseForm(w, r) {
		return
	}
	if s.stripForeign && crossSite(r) {
		s.count(w, oCrossSite)
		r = withoutInput(r, s.keepParam)
	}
	h["Vary"] = s.varyCook
	if s.byQuery {
		h["Referrer-Policy"] = s.noReferer
	}
	st, recorded := w.(*step)
	if recorded {
		r = s.tel.attach(st, r)
	}
	if !looked {
		lookup = s.mapper.Lookup(r)
	}
	for range 4 {
		sess, cookie, err := s.mapper.SessionFor(r, lookup)
		if err != nil {
			s.mapError(w, r, err)
			return
		}
		if cookie != nil {
			h.Set("Set-Cookie", cookie.String())
		}
		if recorded {
			st.handing(sess)
		}
		o := sess.Handle(w, r, s.timeouts)
		s.countHandoff(w, o)
		switch o {
		case handoff.Retry:
		case handoff.Aborted:
			// The app panicked after the response started: abort the
			// connection, as net/http does, so the client sees it broken.
			panic(http.ErrAbortHandler)
		default:
			return
		}
		// The session ended before it took the request: map it again.
	}
	unavailable(w, "session ended repeatedly")
}

// replayConfig is the sessions' step token, journal and replay settings.
// The token key derives from the first signing key, so that servers
// sharing Keys accept each other's tokens; without Keys it is random.
func replayConfig(o *Options) *handoff.Replay {
	var key []byte
	if len(o.Keys) > 0 {
		m := hmac.New(sha256.New, o.Keys[0].Hash)
		m.Write([]byte("continuity step tokens"))
		key = m.Sum(nil)
	} else {
		key = make([]byte, 32)
		rand.Read(key)
	}
	store := o.Journal
	if store == nil {
		store = journal.NewMemory(journal.Limits{MaxEntries: o.JournalMaxEntries, MaxBytes: o.JournalMaxBytes})
	}
	return &handoff.Replay{
		Policy:     handoff.StalePolicy(o.StalePolicy),
		Store:      store,
		MaxEntries: o.JournalMaxEntries,
		MaxBytes:   o.JournalMaxBytes,
		Timeout:    max(o.ReplayTimeout, 0),
		Key:        key,
	}
}

func (s *Server) methodAllowed(m string) bool {
	for _, a := range s.methods {
		if a == m {
			return true
		}
	}
	return false
}

// parseForm reads the query and body under the server's bounds, answering
// 413 or 400 itself so that bad input never reaches a session.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	}
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(min(s.maxBody, 32<<20))
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.count(w, oTooLarge)
			http.Error(w, "413 request body too large", http.StatusRequestEntityTooLarge)
			return false
		}
		s.count(w, oBadRequest)
		http.Error(w, "400 bad request: malformed form or query", http.StatusBadRequest)
		return false
	}
	n := 0
	for _, vs := range r.Form {
		n += len(vs)
	}
	if r.MultipartForm != nil {
		for _, fs := range r.MultipartForm.File {
			n += len(fs)
		}
	}
	if n > s.maxField {
		s.count(w, oBadRequest)
		http.Error(w, "400 bad request: too many form fields", http.StatusBadRequest)
		return false
	}
	return true
}

func (s *Server) mapError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errDraining):
		s.count(w, oDraining)
		if s.opts.DrainRedirect != "" {
			http.Redirect(w, r, s.opts.DrainRedirect, http.StatusTemporaryRedirect)
			return
		}
		unavailable(w, "not accepting new sessions (draining)")
	case errors.Is(err, errRateLimited):
		s.count(w, oRateLimited)
		w.Header().Set("Retry-After", "60")
		http.Error(w, "429 too many new sessions from this address", http.StatusTooManyRequests)
	case errors.Is(err, mapping.ErrClientLimit):
		s.count(w, oRateLimited)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "429 too many sessions from this client: end some, or try again later", http.StatusTooManyRequests)
	case errors.Is(err, mapping.ErrFull):
		s.count(w, oFull)
		unavailable(w, "too many sessions")
	case errors.Is(err, mapping.ErrClosed):
		s.count(w, oShuttingDown)
		unavailable(w, "server shutting down")
	case errors.Is(err, mapping.ErrUnidentified):
		// The application's error stays out of the answer and the logs: it
		// may name the identity.
		s.count(w, oForbidden)
		http.Error(w, "403 forbidden: request not identified", http.StatusForbidden)
	case errors.Is(err, mapping.ErrBadForwardedFor):
		s.count(w, oBadRequest)
		http.Error(w, "400 bad request: malformed X-Forwarded-For", http.StatusBadRequest)
	case errors.Is(err, errTakeover):
		s.logger.Warn("continuity: cannot take a session over", "err", err)
		unavailable(w, "this session cannot be resumed right now; try again in a moment")
	default:
		s.logger.Error("continuity: cannot map request to a session", "err", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
	}
}

func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "503 service unavailable: "+msg, http.StatusServiceUnavailable)
}
