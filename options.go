package continuity

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/continuity-go/continuity/adapter"
	"github.com/continuity-go/continuity/progress"
)

// Defaults for the zero values of [Options].
const (
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
	DefaultCookieName          = "cid"
)

// Options configure a [Server]. The zero value is a secure, bounded
// default: cookie sessions (signed, HttpOnly, SameSite=Lax), 10,000 sessions
// at most, idle sessions reaped after 20 minutes, GET, HEAD and POST only,
// 1 MiB bodies, no static files. Every field documents its zero value.
type Options struct {
	// Mode selects what keys a session: ByCookie (default), ByQuery, ByIP,
	// ByPath, or a combination such as ByCookie|ByPath.
	Mode Mode
	// CookieName is the session cookie's name. Default "cid".
	CookieName string
	// CookiePath is the session cookie's Path. Default "/"; set it to the
	// mount point when several servers share one host.
	CookiePath string
	// CookieSecure forces the Secure cookie attribute, for servers behind a
	// TLS-terminating proxy. It is set anyway on requests that came over TLS.
	CookieSecure bool
	// QueryParam names the parameter carrying the session token in ByQuery
	// mode. Default "sid".
	QueryParam string
	// Keys sign session IDs; the first signs, all verify (rotate by putting
	// the new key first). Default: a random key per Server.
	Keys []Key
	// TrustedProxies lists networks whose X-Forwarded-For is believed in
	// ByIP mode. Default none.
	TrustedProxies []netip.Prefix
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
	// browser evicts the least recently used idle session; if all are busy
	// it gets 503 with Retry-After.
	MaxSessions int

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

	// Hooks are lifecycle callbacks for sessions and requests (session
	// start and end with the reason, request start and end, before the
	// response head is sent). Panics in hooks are contained and logged.
	Hooks Hooks
	// OnStart runs once when the application starts (in New, after the
	// options are accepted); OnStop once when it stops (in Shutdown, after
	// every session has ended and its hooks have run; in Close, at once).
	OnStart, OnStop func()

	// DrainRedirect, if set, is where [Server.Drain] sends new browsers
	// (307), instead of answering them 503 with Retry-After.
	DrainRedirect string
	// NewSessionsPerIP, if positive, bounds how many sessions one client
	// IP address may start per minute; beyond it, 429 with Retry-After.
	// Default 0 (no limit).
	NewSessionsPerIP int

	// Logger receives lifecycle events (session IDs appear only as keyed
	// hashes, at Debug level) and errors (panics, with stacks, at Error).
	// Default [slog.Default].
	Logger *slog.Logger
}
