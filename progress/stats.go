package progress

// Watchers is the number of long-polls and event streams waiting on
// meters now, over all sessions.
func (h *Handler) Watchers() int { return h.watchers() }

// Meters is the number of meters the store holds (running, and finished
// ones still readable), over all sessions, when the store counts them (a
// [MemoryStore] does, through a Len method); ok is false when it does not.
func (h *Handler) Meters() (n int, ok bool) {
	if l, ok := h.store.(interface{ Len() int }); ok {
		return l.Len(), true
	}
	return 0, false
}
