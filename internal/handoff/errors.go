package handoff

import "errors"

// The errors and end reasons are re-exported by package request, where
// their documentation lives.
var (
	ErrSessionClosed = errors.New("continuity: session closed")
	ErrQueueFull     = errors.New("continuity: session queue full")
	ErrNoRequest     = errors.New("continuity: no request in hand")
	ErrClientGone    = errors.New("continuity: client gone")

	EndReturned = errors.New("continuity: session finished")
	EndIdle     = errors.New("continuity: session idle timeout")
	EndLifetime = errors.New("continuity: session lifetime exceeded")
	EndEvicted  = errors.New("continuity: session evicted at the session cap")
	EndShutdown = errors.New("continuity: server shutdown")
	EndPanic    = errors.New("continuity: session panicked")

	EndUnresponsive = errors.New("continuity: session did not answer in time")

	ErrDivergence    = errors.New("continuity: replay diverged from the journal")
	EndReplayTimeout = errors.New("continuity: session replay timed out")
)

var (
	// errDiscard tells output methods that the step is a replayed one,
	// whose output goes nowhere.
	errDiscard = errors.New("continuity: replayed step")
	// errLive tells a replaying run that the journal is spent: it goes on
	// with live requests.
	errLive = errors.New("continuity: replay done")
)

// Refusals of a request whose body would pass a bound on queued bytes.
var (
	errQueueBytes = errors.New("continuity: session's queued bytes full")
	errBudget     = errors.New("continuity: server's queued bytes full")
)
