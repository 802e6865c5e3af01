package request

import "github.com/continuity-go/continuity/internal/handoff"

// ErrSessionClosed is returned by [Request.NextErr] once the session has
// ended: reaped for idleness, past its lifetime, evicted at the session cap,
// or closed by a server shutdown. [Request.Next] ends the session goroutine
// instead of returning it.
var ErrSessionClosed = handoff.ErrSessionClosed

// ErrNoRequest is returned by output methods called when the session holds
// no request: before the first [Request.Next] when the implicit first request
// is disabled, or after [Request.End].
var ErrNoRequest = handoff.ErrNoRequest

// ErrClientGone is returned by output methods when the browser's request is
// no longer being answered by this session: the client disconnected, or the
// server stopped waiting for the response (a timeout or a shutdown).
var ErrClientGone = handoff.ErrClientGone

// Reasons a session ends. They are the cause of the session's context
// (see [context.Cause]) and are passed to the SessionEnd hook.
var (
	// EndReturned: the application function returned.
	EndReturned = handoff.EndReturned
	// EndIdle: the session was idle longer than the idle timeout.
	EndIdle = handoff.EndIdle
	// EndLifetime: the session outlived the maximum lifetime.
	EndLifetime = handoff.EndLifetime
	// EndEvicted: the session was the least recently used idle session when
	// a new browser arrived at the session cap.
	EndEvicted = handoff.EndEvicted
	// EndShutdown: the server shut down.
	EndShutdown = handoff.EndShutdown
	// EndPanic: the application function panicked.
	EndPanic = handoff.EndPanic
	// EndUnresponsive: the session took a request and did not start its
	// response within the server's response timeout; it was ended as
	// stuck, and the browser's next request starts a fresh session.
	EndUnresponsive = handoff.EndUnresponsive
	// EndReplayTimeout: a replay of the flow (to go back to an earlier
	// step, or to show the current one again) did not reach the live step
	// within the server's ReplayTimeout; the browser got 503.
	EndReplayTimeout = handoff.EndReplayTimeout
	// EndFenced: another node of the deployment took the session over
	// (this node's lease on it lapsed); this copy ended, and the browser's
	// request, if one was in hand, got a page saying the session moved.
	EndFenced = handoff.EndFenced
	// EndHandedOff: the node drained or shut down, and gave the session
	// up after its current step, keeping its journal, so that another
	// node goes on with it.
	EndHandedOff = handoff.EndHandedOff
)
