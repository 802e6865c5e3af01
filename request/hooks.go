package request

// Hooks are lifecycle callbacks, each optional (ASP's global.asa events,
// for sessions and requests). They run on the session goroutine, except
// that a session ended for not answering in time (EndUnresponsive) runs
// its SessionEnd on the goroutine that ended it. A panic in a hook is
// recovered and logged; it never ends the session or the server.
type Hooks struct {
	// SessionStart runs when a session's goroutine starts, before the
	// application function. If the browser's previous session is still
	// ending, it runs after that session's SessionEnd.
	SessionStart func(s *Session)
	// SessionEnd runs once when a session has ended, after its cleanups
	// and before requests queued for it go to a new session. reason is one
	// of the End* errors: EndReturned, EndIdle, EndLifetime, EndEvicted,
	// EndShutdown, EndPanic or EndUnresponsive.
	SessionEnd func(s *Session, reason error)
	// RequestStart runs when the session takes a request, before the
	// application sees it.
	RequestStart func(r *Request)
	// RequestEnd runs when the session is done with a request (at Next,
	// End, or when the application returns), while it is still in hand.
	RequestEnd func(r *Request)
	// BeforeCommit runs just before a response's status and headers are
	// sent: the last moment to change them.
	BeforeCommit func(r *Request)
}
