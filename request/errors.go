package request

import "errors"

// ErrSessionClosed is returned by [Request.NextErr] (and by [Session.Deliver])
// once the session has ended: reaped for idleness, past its lifetime, evicted
// at the session cap, or closed by a server shutdown. [Request.Next] ends the
// session goroutine instead of returning it.
var ErrSessionClosed = errors.New("continuity: session closed")

// ErrQueueFull is returned by [Session.Deliver] when the session already has
// as many requests waiting as its queue holds.
var ErrQueueFull = errors.New("continuity: session queue full")

// ErrNoRequest is returned by output methods called when the session holds
// no request: before the first [Request.Next] when the implicit first request
// is disabled.
var ErrNoRequest = errors.New("continuity: no request in hand")

// ErrClientGone is returned by output methods when the browser's request is
// no longer being answered by this session: the client disconnected, or the
// server stopped waiting for the response (a timeout or a shutdown).
var ErrClientGone = errors.New("continuity: client gone")

// Reasons a session ends. They are the cause of the session's context
// (see [context.Cause]) and are passed to [Options.OnEnd].
var (
	// EndReturned: the application function returned.
	EndReturned = errors.New("continuity: session finished")
	// EndIdle: the session was idle longer than the idle timeout.
	EndIdle = errors.New("continuity: session idle timeout")
	// EndLifetime: the session outlived the maximum lifetime.
	EndLifetime = errors.New("continuity: session lifetime exceeded")
	// EndEvicted: the session was the least recently used idle session when
	// a new browser arrived at the session cap.
	EndEvicted = errors.New("continuity: session evicted at the session cap")
	// EndShutdown: the server shut down.
	EndShutdown = errors.New("continuity: server shutdown")
	// EndPanic: the application function panicked.
	EndPanic = errors.New("continuity: session panicked")
)
