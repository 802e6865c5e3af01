package continuity

// exportInlineBodies is never run. It is here because of how the Go
// compiler (1.26; golang/go#74783) treats the aliases this package
// declares, such as Request = request.Request: an application that
// imports only this package gets the request package's small methods
// inlined only if this package's compiled form carries their bodies, and
// it carries the bodies of the methods this package calls, no others.
// Without it, r.Next() is a real call in every application, one more
// frame on every parked session's stack (garbage collection walks each
// of them on every cycle), and r.Param, r.Write and the like cost a
// call each. TestInlineBodiesAreExported keeps the list complete and
// TestParkedStackFrames measures the effect.
func exportInlineBodies(r *Request, s *Session, e *SSE) {
	r.Arrived()
	r.Barrier()
	r.Button("", nil)
	r.CallbackURL(nil)
	r.Context()
	_, _ = r.Cookie("")
	r.Durable()
	r.End()
	_ = r.Flush()
	_ = r.FlushError()
	r.HTTP()
	r.Has("")
	r.Header()
	r.IsReplaying()
	r.Link("", nil)
	r.Method()
	r.Next()
	_ = r.NextErr()
	r.Now()
	r.Param("")
	r.Params("")
	r.Path()
	r.PostParam("")
	r.Print()
	r.Printf("")
	r.Random()
	r.Redirect("", 0)
	r.RemoteAddr()
	_ = r.RenewID()
	r.RequestContext()
	r.RequestHeader("")
	r.RunCallbacks()
	_, _ = r.SSE()
	r.Session()
	r.SessionToken()
	r.SetCookie(nil)
	r.SetStalePolicy(0)
	r.SetStatus(0)
	r.Stale()
	r.StaleReason()
	r.StepField()
	r.StepToken()
	r.StepURL("")
	_ = r.Stream()
	r.TryNext()
	r.URL()
	r.Version("", 0)
	_, _ = r.Write(nil)
	r.WriteHeader(0)
	_, _ = r.WriteString("")

	s.Cleanup(nil)
	s.Context()
	s.Created()
	_ = s.Expose("", nil)
	s.Exposed()
	s.LastSeen()
	s.LogID()
	s.Path()
	s.SetValue(nil, nil)
	s.Value(nil)
	s.ValueOrSet(nil, nil)

	_ = e.Comment("")
	_ = e.Data("")
	e.LastEventID()
	_ = e.Retry(0)
	_ = e.Send(SSEEvent{})
}
