package continuity

import (
	"context"

	"github.com/continuity-go/continuity/mapper"
	"github.com/continuity-go/continuity/request"
)

// Request is the handle a session goroutine holds: the browser's current
// request and its response. See package request for its methods.
type Request = request.Request

// Session is a session's hand-off point; applications reach it through
// [Request.Session].
type Session = request.Session

// Mode selects what keys a session; modes combine with |.
type Mode = mapper.Mode

// Session key modes.
const (
	ByCookie = mapper.ByCookie // a signed ID in a cookie (default)
	ByQuery  = mapper.ByQuery  // a signed ID in a query or form parameter
	ByIP     = mapper.ByIP     // the client's IP address
	ByPath   = mapper.ByPath   // the cleaned URL path
)

// Key signs (and optionally encrypts) session IDs.
type Key = mapper.Key

// Errors and session end reasons, re-exported from package request.
var (
	ErrSessionClosed = request.ErrSessionClosed
	ErrClientGone    = request.ErrClientGone
	ErrNoRequest     = request.ErrNoRequest

	EndReturned = request.EndReturned
	EndIdle     = request.EndIdle
	EndLifetime = request.EndLifetime
	EndEvicted  = request.EndEvicted
	EndShutdown = request.EndShutdown
	EndPanic    = request.EndPanic

	EndUnresponsive  = request.EndUnresponsive
	EndReplayTimeout = request.EndReplayTimeout
	EndFenced        = request.EndFenced
	EndHandedOff     = request.EndHandedOff

	ErrDivergence = request.ErrDivergence
)

// StalePolicy says what a session does with a stale request; see
// [request.StalePolicy] and [Options.StalePolicy].
type StalePolicy = request.StalePolicy

// Stale policies.
const (
	Reject = request.Reject // the current page again, with a notice (default)
	Rewind = request.Rewind // back to the stale page's step
	Fork   = request.Fork   // a separate copy of the flow for the stale page's tab
)

// StaleReason says why a page answers a stale request; see
// [request.StaleReason].
type StaleReason = request.StaleReason

// Stale reasons.
const (
	NotStale    = request.NotStale
	StaleReload = request.StaleReload
	StaleBack   = request.StaleBack
)

// Once runs fn once for the flow and journals its result, which a replay
// returns without running fn; see [request.Once].
func Once[T any](r *Request, name string, fn func(ctx context.Context, key string) (T, error)) (T, error) {
	return request.Once(r, name, fn)
}

// OnceError is the error a replayed [Once] returns when its function
// failed the first time; see [request.OnceError].
type OnceError = request.OnceError

// Topic broadcasts events between sessions: publishers append, long polls
// and streams wait for what came after the version they have seen. See
// [request.Topic].
type Topic[T any] = request.Topic[T]

// Event is one value published on a [Topic], with its version.
type Event[T any] = request.Event[T]

// NewTopic returns a [Topic] that keeps the last capacity events (zero
// means [DefaultTopicCapacity]).
func NewTopic[T any](capacity int) *Topic[T] { return request.NewTopic[T](capacity) }

// Codec turns a Topic's values into bytes for a topic shared between
// processes (redistore.NewTopic) and back; see [request.Codec].
type Codec[T any] = request.Codec[T]

// JSONCodec encodes a Topic's values with encoding/json.
func JSONCodec[T any]() Codec[T] { return request.JSONCodec[T]() }

// DefaultTopicCapacity is how many events a Topic keeps by default.
const DefaultTopicCapacity = request.DefaultTopicCapacity

// Errors of [Topic.Wait].
var (
	ErrBehind      = request.ErrBehind
	ErrInterrupted = request.ErrInterrupted
)

// SSE writes Server-Sent Events; [Request.SSE] opens one.
type SSE = request.SSE

// SSEEvent is one Server-Sent Event.
type SSEEvent = request.SSEEvent
