package continuity

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/continuity-go/continuity/adapter"
	"github.com/continuity-go/continuity/journal"
	"github.com/continuity-go/continuity/progress"
)

// Defaults for the zero values of [Options]. They are the one definition
// of each default: [New] resolves every zero field to these values before
// it configures the packages below, whose own fallbacks never apply.
const (
	DefaultCookieName          = "cid"
	DefaultQueryParam          = "sid"
	DefaultCookieSameSite      = http.SameSiteLaxMode
	DefaultIdleTimeout         = 20 * time.Minute
	DefaultMaxSessions         = 10000
	DefaultQueueDepth          = 16
	DefaultQueueTimeout        = 30 * time.Second
	DefaultResponseTimeout     = 5 * time.Minute
	DefaultWriteTimeout        = 30 * time.Second
	DefaultMaxQueuedBytes      = 4 << 20
	DefaultMaxQueuedBytesTotal = 256 << 20
	DefaultMaxBodyBytes        = 1 << 20
	DefaultMaxFormFields       = 1000
	DefaultJournalMaxEntries   = journal.DefaultMaxEntries // 1,000
	DefaultJournalMaxBytes     = journal.DefaultMaxBytes   // 1 MiB
	DefaultReplayTimeout       = 2 * time.Second
)

// Options configure a [Server]. The zero value is a secure, bounded
// default: cookie sessions (signed, HttpOnly, SameSite=Lax), 10,000 sessions
// at most, idle sessions reaped after 20 minutes, GET, HEAD and POST only,
// 1 MiB bodies, no static files. Every field documents its zero value.
type Options struct {
	// Mode selects what keys a session: ByCookie (default; with Identify
	// set, the default is the identity alone), ByQuery, ByIP, ByPath, or a
	// combination such as ByCookie|ByPath. ByPath alone is refused (every
	// browser would share a path's session), and so is ByCookie|ByQuery.
	Mode Mode
	// CookieName is the session cookie's name. Default "cid".
	CookieName string
	// CookiePath is the session cookie's Path. Default "/"; set it to the
	// mount point when several servers share one host.
	CookiePath string
	// CookieSecure forces the Secure cookie attribute, for servers behind a
	// TLS-terminating proxy. It is set anyway on requests that came over TLS.
	CookieSecure bool
	// CookieSameSite is the session cookie's SameSite attribute:
	// [http.SameSiteLaxMode] (the default) or [http.SameSiteStrictMode],
	// with which a browser arriving by a link from another site is not
	// recognised at all (it gets a fresh session). Other values are refused
	// by [New]: without SameSite, other sites' pages could send the cookie
	// with their requests.
	CookieSameSite http.SameSite
	// QueryParam names the parameter carrying the session token in ByQuery
	// mode. Default "sid".
	QueryParam string
	// Keys sign session IDs; the first signs, all verify (rotate by putting
	// the new key first). Default: a random key per Server.
	Keys []Key
	// TrustedProxies lists networks whose X-Forwarded-For is believed when
	// resolving a client's address (the rightmost hop not itself trusted
	// is the client): for ByIP keys and, in every mode, for the per-client
	// limits such as NewSessionsPerIP. Behind a reverse proxy, list it
	// here, or every client counts as the proxy. Default none.
	TrustedProxies []netip.Prefix
	// Identify, if set, keys each request's session by an identity the
	// application vouches for, such as the user ID an authenticating
	// middleware put into the request's context (a pluggable mapper). It
	// combines with Mode: Mode zero then means the identity alone keys the
	// session (one per user, shared by the user's browsers); ByCookie
	// gives each user a session per browser; ByPath one per user and path.
	// Sessions are still minted, signed, bounded and reaped as usual.
	//
	// Security contract: the identity must come from authenticated data,
	// never from unsigned client input (a header, a query parameter, an
	// unsigned cookie), or anyone can step into another user's session. An
	// error or an empty identity gets 403 and starts no session. The
	// identity is never logged: only a keyed hash of it is kept. It runs
	// once on every request; keep it cheap. Default nil (no identity).
	Identify func(r *http.Request) (string, error)
	// NewID mints session IDs. Default: 130 bits from crypto/rand
	// (mapper.RandomID); mapper.UUID gives random UUIDs.
	NewID func() (string, error)

	// IdleTimeout ends sessions with no request for this long. Default 20m;
	// negative disables idle reaping.
	IdleTimeout time.Duration
	// MaxLifetime, if positive, ends sessions this long after they began.
	// Default 0 (no bound).
	MaxLifetime time.Duration
	// MaxSessions bounds live sessions. Default 10,000. At the cap a new
	// browser evicts the least recently used idle session, except that a
	// client holding at least an average share evicts its own (429 if it
	// has none idle); if all are busy it gets 503 with Retry-After.
	MaxSessions int

	// MaxSessionsPerClient bounds the live sessions of one client (an IP
	// address, an IPv6 /64, or the client TrustedProxies forward for). At
	// the bound its new session displaces its own least recently used idle
	// session, never another client's; if all of its sessions are busy it
	// gets 429 with Retry-After. Default: an eighth of MaxSessions (1,250
	// at the default cap), but at least 64 or MaxSessions if smaller: an
	// office behind one NAT address fits, one address cannot take the
	// table. Negative: no bound. Loopback clients are never bounded (the
	// host itself, or a proxy on it missing from TrustedProxies).
	MaxSessionsPerClient int
	// MaxBusyPerClient bounds the busy sessions (a request being handled
	// or queued: a stream, a long poll) of one client: holding this many,
	// it gets 429 with Retry-After for a new session. Default: a sixteenth
	// of MaxSessions (625), but at least 32 or MaxSessions if smaller: at
	// least sixteen clients are then needed to pin the whole table.
	// Negative: no bound.
	MaxBusyPerClient int

	// QueueDepth is how many requests may wait for a busy session; beyond
	// it they get 503. A request whose client goes leaves the queue at
	// once. Default 16.
	QueueDepth int
	// QueueTimeout bounds how long a request waits, from its arrival, for
	// its busy session to take it; then it gets 503 with Retry-After.
	// Default 30s; negative means no bound.
	QueueTimeout time.Duration
	// ResponseTimeout bounds how long a request may wait, from the moment
	// its session takes it, for the response to start (a write or a
	// flush); then it gets 503, and the session, which is stuck, is ended
	// (EndUnresponsive): the browser's next request starts a fresh one.
	// Once started, the response may stream for as long as the session
	// likes. Default 5m; negative means no bound.
	ResponseTimeout time.Duration
	// WriteTimeout bounds each write of a session's response: a write the
	// client does not take in within it fails, and the session carries on
	// (a client that stopped reading cannot pin it). It is set per write,
	// so a stream to a slow but live reader runs as long as it likes.
	// Default 30s; negative means no bound.
	WriteTimeout time.Duration
	// MaxQueuedBytes bounds the bytes that the bodies of requests waiting
	// for one busy session may hold, beyond the first of them; a request
	// that would pass it gets 503 with Retry-After. Default 4 MiB; negative
	// means no bound.
	MaxQueuedBytes int64
	// MaxQueuedBytesTotal bounds the bytes that the bodies of requests
	// waiting for any session may hold; a request that would pass it gets
	// 503 with Retry-After. Default 256 MiB; negative means no bound.
	MaxQueuedBytesTotal int64
	// NoImplicitFirstNext starts the application with no request in hand;
	// it must call Next first. By default it starts with the session's first
	// request already delivered.
	NoImplicitFirstNext bool

	// Methods lists the HTTP methods served. Default GET, HEAD and POST;
	// others get 405 with an Allow header. HEAD never creates or advances a
	// session.
	Methods []string
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default
	// 1 MiB.
	MaxBodyBytes int64
	// MaxFormFields bounds the number of query and form fields; more get
	// 400. Default 1000.
	MaxFormFields int
	// InsecureSkipCrossOriginCheck turns off the check, on by default, that
	// refuses cross-site POSTs (CSRF) with 403 using
	// [http.CrossOriginProtection].
	InsecureSkipCrossOriginCheck bool
	// InsecureAllowCrossSiteInput turns off the rule, on by default, that a
	// request from another site feeds no input to a session: such a request
	// (a link or redirect from elsewhere, judged as
	// [http.CrossOriginProtection] judges) reaches the application as a
	// plain GET of its path, without its query or form, so that another
	// site cannot drive a user's flow with a link. Turn it off only for an
	// application none of whose steps acts on input.
	InsecureAllowCrossSiteInput bool

	// DocRoot is the directory static files are served from. Default ""
	// serves no files (static-looking requests get 404 and still never
	// reach a session). Files outside it, dotfiles and directories are never
	// served.
	DocRoot string
	// Static reports whether a request is for a static file. Default
	// [IsStatic]: by extension (css, js, images, fonts, ico, map, svg, txt).
	Static func(*http.Request) bool

	// Adapter holds the standalone server's limits for ListenAndServe and
	// Serve. The zero value is hardened (see package adapter).
	Adapter adapter.Config

	// Progress configures the progress meters that applications start with
	// package progress, and their status endpoint, GET
	// /_progress_status/NAME: the store (default in memory), how long
	// finished meters stay readable (default 5m), the longest long-poll
	// (default 30s). The zero value is the default.
	Progress progress.Options

	// Hooks are the lifecycle callbacks: the server's start and stop,
	// session start and end (with the reason), request start and end, and
	// the moment before a response head is sent. Panics in hooks are
	// contained and logged. Default none.
	Hooks Hooks

	// StalePolicy is what a session does with a stale request, one that
	// carries an earlier step's token (see [Request.StepToken]): [Reject]
	// (the default: the current page again, with [Request.Stale] true),
	// [Rewind] (back to that step) or [Fork] (a separate copy of the flow
	// for that tab). A flow may set its own with [Request.SetStalePolicy].
	// It matters only to flows that use step tokens.
	StalePolicy StalePolicy
	// Journal keeps the journals of the sessions whose flows use step
	// tokens: each step's input and each Once's result, from which a
	// replay rebuilds the flow. Default: in memory, per server
	// ([journal.NewMemory] with the caps below).
	//
	// A Journal that is a [journal.Leaser] (redistore.JournalStore) is
	// shared by the nodes of a deployment: then every session is
	// journaled from its first step, whether or not its flow uses step
	// tokens, under a lease this server renews; and a request carrying
	// the cookie of a session that another node ran (it died, or
	// drained) is served by taking the session over: acquiring its
	// lease, replaying its journal, and answering the request as its next
	// step. Sessions keyed by path ([ByPath]) stay on their node. See
	// "Several nodes" in the README.
	Journal journal.Store
	// Node names this server in the leases of a shared Journal (for
	// operators: who holds a session). Default: the host name and process
	// ID.
	Node string
	// JournalMaxEntries caps the entries of each session's journal (an
	// entry per step, per Once and per Barrier). At the cap the journal
	// first drops what earlier rewinds abandoned; if the flow's own history
	// still does not fit, the journal is dropped: the flow keeps running
	// forward, and going back gets a page saying it is too old. Default
	// 1,000; negative means no cap.
	JournalMaxEntries int
	// JournalMaxBytes caps the bytes of each session's journal, as
	// [journal.Entry.Size] counts them (about the size of the form values
	// plus 64 per entry), with the same effect as JournalMaxEntries.
	// Default 1 MiB; negative means no cap.
	JournalMaxBytes int64
	// ReplayTimeout bounds a replay: from the stale request's arrival at
	// the session until the replayed flow is back at the live step. A flow
	// that takes longer (it blocks or spins between steps) is ended, and
	// the browser gets 503. Default 2s; negative means no bound.
	ReplayTimeout time.Duration
	// Telemetry configures the OpenTelemetry traces and metrics the
	// server reports: the tracer and meter providers (default: the
	// globals, otel.GetTracerProvider and otel.GetMeterProvider, which
	// cost next to nothing until a program installs an SDK), the
	// propagator that reads an incoming traceparent (default the global
	// one), and attributes that tell this server's metrics from another's.
	// See [Telemetry].
	Telemetry Telemetry

	// DrainRedirect, if set, is where [Server.Drain] sends new browsers
	// (307), instead of answering them 503 with Retry-After.
	DrainRedirect string
	// NewSessionsPerIP, if positive, bounds how many sessions one client
	// IP address (an IPv6 /64; behind TrustedProxies, the client they
	// forward for) may start per minute; beyond it, 429 with Retry-After.
	// Default 0 (no limit).
	NewSessionsPerIP int

	// Logger receives lifecycle events (session IDs appear only as keyed
	// hashes, at Debug level) and errors (panics, with stacks, at Error).
	// Default [slog.Default].
	Logger *slog.Logger
}

// resolve replaces each zero field that has a default with the default, and
// refuses values no default can fix.
func (o *Options) resolve() error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CookieName == "" {
		o.CookieName = DefaultCookieName
	}
	if o.QueryParam == "" {
		o.QueryParam = DefaultQueryParam
	}
	switch o.CookieSameSite {
	case 0:
		o.CookieSameSite = DefaultCookieSameSite
	case http.SameSiteLaxMode, http.SameSiteStrictMode:
	default:
		return fmt.Errorf("continuity: New: CookieSameSite must be http.SameSiteLaxMode or http.SameSiteStrictMode, not %d: without SameSite, other sites could send the session cookie", o.CookieSameSite)
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxSessions == 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.QueueDepth <= 0 {
		o.QueueDepth = DefaultQueueDepth
	}
	if o.QueueTimeout == 0 {
		o.QueueTimeout = DefaultQueueTimeout
	}
	if o.ResponseTimeout == 0 {
		o.ResponseTimeout = DefaultResponseTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxQueuedBytes == 0 {
		o.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if o.MaxQueuedBytesTotal == 0 {
		o.MaxQueuedBytesTotal = DefaultMaxQueuedBytesTotal
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxFormFields == 0 {
		o.MaxFormFields = DefaultMaxFormFields
	}
	if o.Static == nil {
		o.Static = IsStatic
	}
	if o.StalePolicy > Fork {
		return fmt.Errorf("continuity: New: unknown StalePolicy %d", o.StalePolicy)
	}
	if o.JournalMaxEntries == 0 {
		o.JournalMaxEntries = DefaultJournalMaxEntries
	}
	if o.JournalMaxBytes == 0 {
		o.JournalMaxBytes = DefaultJournalMaxBytes
	}
	if o.ReplayTimeout == 0 {
		o.ReplayTimeout = DefaultReplayTimeout
	}
	return nil
}
