package continuity

import (
	"github.com/continuity-go/continuity/internal/handoff"
	"github.com/continuity-go/continuity/request"
)

// internalHooks adapts the application's hooks to the session machinery,
// which knows the handle and the session by their internal types. Only the
// hooks that are set get an adapter, so an unset hook costs nothing; t,
// when not nil, adds the telemetry's hooks at the start and end of each
// request.
func internalHooks(h *Hooks, t *telemetry) *handoff.Hooks {
	var out handoff.Hooks
	if f := h.SessionStart; f != nil {
		out.SessionStart = func(s *handoff.Session) { f((*request.Session)(s)) }
	}
	if f := h.SessionEnd; f != nil {
		out.SessionEnd = func(s *handoff.Session, reason error) { f((*request.Session)(s), reason) }
	}
	if f := h.RequestStart; f != nil {
		out.RequestStart = func(r *handoff.Handle) { f((*request.Request)(r)) }
	}
	if f := h.RequestEnd; f != nil {
		out.RequestEnd = func(r *handoff.Handle) { f((*request.Request)(r)) }
	}
	if t != nil {
		// The step is taken before the application's hook sees it, and
		// answered after.
		if f := out.RequestStart; f != nil {
			out.RequestStart = func(r *handoff.Handle) { t.taken(r); f(r) }
		} else {
			out.RequestStart = t.taken
		}
		if f := out.RequestEnd; f != nil {
			out.RequestEnd = func(r *handoff.Handle) { f(r); t.answered(r) }
		} else {
			out.RequestEnd = t.answered
		}
		out.Replay = t.replayed
	}
	if f := h.BeforeCommit; f != nil {
		out.BeforeCommit = func(r *handoff.Handle) { f((*request.Request)(r)) }
	}
	return &out
}
