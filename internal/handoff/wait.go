package handoff

import "runtime"

// Waiting for the next request, a timer or a signal, whichever comes first.
//
// Perl Continuity's sessions wait on several things at once through
// Coro::Event; a Go session does it with select. [Handle.Next] is "finish
// the response, then block for the next request". To wait for something
// else as well, a session finishes the response with [Handle.End], then
// selects on [Handle.Arrived] together with its timers, its signals
// (channels, [Topic.Changed]) and [Handle.Context]:
//
//	r.End()
//	select {
//	case <-r.Arrived(): // the browser is back
//	case <-reminder.C:  // a timer
//	case <-room.Changed(seen): // another session published
//	case <-r.Context().Done(): // the session is over
//		return
//	}
//	r.Next() // or TryNext, to never block
//
// Arrived only reports that a request is waiting; it does not take it.
// Whatever case wins, the request stays queued for the next Next or
// TryNext, so a request that arrives as a timer fires is never lost.

// End sends the response in hand (committing the head if nothing was
// written) and releases the request without waiting for the next one, as
// the first half of [Handle.Next]. Output methods then fail with
// [ErrNoRequest] until Next or TryNext loads another request. End is a
// no-op with no request in hand.
func (r *Handle) End() { r.finish(outServed) }

// Arrived returns a channel that is closed when a request for this session
// is waiting to be taken: at once if one is queued already. It does not
// take the request; [Handle.Next] or [Handle.TryNext] does. The request
// in hand, if any, does not count.
//
// A queued request can still be abandoned by its client before it is
// taken; then Next waits for another one, and TryNext reports false. The
// channel is not closed when the session ends: select on
// [Handle.Context] as well. Arrived may be called from any goroutine.
func (r *Handle) Arrived() <-chan struct{} {
	if r.rp != nil && r.rp.pending() {
		return closedChan // a replay's next request is the journal's, always there
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		return closedChan
	}
	m := s.moreLocked()
	if m.bell == nil {
		m.bell = make(chan struct{})
	}
	return m.bell
}

// TryNext is [Handle.Next] that never blocks: it sends the response in
// hand and, if a request is waiting, loads it and reports true. Otherwise
// (no request waiting, or the session has ended) it reports false and
// leaves no request in hand, as [Handle.End] does. If a replay replaces
// this run of the flow, TryNext ends the goroutine as Next does.
func (r *Handle) TryNext() bool {
	r.finish(outServed)
	if r.rp != nil {
		switch err := r.replayNext(); err {
		case nil:
			return true
		case errLive:
		default:
			return false
		}
	}
	s := r.s
	for {
		if r.dead {
			runtime.Goexit()
		}
		if s.isCancelled() {
			return false
		}
		ex := s.takeQueued()
		if ex == nil {
			return false
		}
		if s.j.Load() == nil || r.admit(ex) {
			r.accept(ex)
			return true
		}
	}
}

// closedChan is a channel that is always closed.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()
