package continuity

// Inspect lists the live sessions, most recently used first, as
// [Server.AdminHandler] serves them: hashed ID, age, idle time, path,
// queued requests, and what each exposes with [Session.Expose]. It reads
// only what the mapper and the exposed snapshots hold: it never waits for
// a session's goroutine, nor touches its variables, so it is safe while
// sessions work or wait. It is for operator views; the values sessions
// expose may be secrets from their own users.
func (s *Server) Inspect() []SessionInfo { return s.sessions() }
