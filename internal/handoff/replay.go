package handoff

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/continuity-go/continuity/journal"
)

// Replay. A goroutine only runs forward, so a session goes back to an
// earlier step (rewind), or renders its current step again (a re-show),
// by running the application function afresh on a new goroutine, the
// successor run, which is fed the journal: each Next gets the recorded
// request of its step, each Once its recorded result, and the output of
// the replayed steps goes nowhere. At the live point the successor takes
// over from the run it replaces, which has meanwhile ended: the run that
// took the stale request marks itself dead and returns ErrSessionClosed
// from Next (which ends its goroutine with Goexit, so its deferred calls
// run), and its deferred end starts the successor. The session itself
// lives on: its cleanups, SessionEnd hook and context are untouched.
//
// Each journaled call of the replayed flow is checked against the
// journal, by kind, name and step; a mismatch, a call the journal does not
// have, or a flow that returns before the live point is a divergence: the
// flow is not deterministic (or has changed), and the session is ended
// with a page that says so. Payloads are never compared.

// replayMode is what a replay is for.
type replayMode uint8

const (
	// modeReshow renders the current step again: the journal's last
	// step's output goes to the live request.
	modeReshow replayMode = iota
	// modeRewind brings the flow back to the target step, whose Next then
	// takes the live request as the next input.
	modeRewind
)

// replayer feeds a successor run the journal.
type replayer struct {
	entries  []journal.Entry // the timeline up to the target step
	pos      int             // the next entry
	mode     replayMode
	target   int
	fork     bool          // the run is a new branch's (no rewind to record)
	ex       *exchange     // the live request, until it is in hand
	base     *http.Request // the live request, whose headers replayed requests carry
	stale    StaleReason   // why the page is re-shown
	live     bool          // the re-shown step's output goes to the live request
	req      *http.Request // the recorded request in hand
	start    time.Time     // when the replay began
	steps    int           // recorded requests replayed so far
	reported bool          // the Replay hook has run
}

// errReplayAborted is what the Replay hook is told of a replay whose run
// ended (a panic) before the live step, with the session still live.
var errReplayAborted = errors.New("continuity: replay ended before the live step")

// replayed runs the Replay hook for rp, once: at the live step (err nil)
// or when the replay fails.
func (s *Session) replayed(rp *replayer, err error) {
	if rp == nil || rp.reported {
		return
	}
	rp.reported = true
	h := s.hooks
	if h == nil || h.Replay == nil {
		return
	}
	var took time.Duration
	if !rp.start.IsZero() {
		took = time.Since(rp.start)
	}
	s.contain("Replay hook", func() { h.Replay(s, rp.base, rp.steps, took, err) })
}

// skipVersions moves past the Version entries at the replay's position
// (the Version calls find theirs by name, wherever they are) and reports
// whether an entry is left for the flow's next journaled call.
func (rp *replayer) skipVersions() bool {
	for rp.pos < len(rp.entries) && rp.entries[rp.pos].Kind == journal.Version {
		rp.pos++
	}
	return rp.pos < len(rp.entries)
}

// pending reports whether the replayed flow has a request to take.
func (rp *replayer) pending() bool { return rp.pos < len(rp.entries) || rp.ex != nil }

// request rebuilds a recorded request: its method, URL and form, with the
// live request's headers, cookies, address and context (the same browser).
func (rp *replayer) request(e *journal.Entry) *http.Request {
	u := *rp.base.URL
	u.Path, u.RawPath, u.RawQuery = e.Path, "", e.Query
	form := make(url.Values, len(e.Form))
	for k, vs := range e.Form {
		form[k] = append(form[k], vs...)
	}
	if q, err := url.ParseQuery(e.Query); err == nil {
		for k, vs := range q {
			form[k] = append(form[k], vs...)
		}
	}
	post := e.Form
	if post == nil {
		post = url.Values{}
	}
	req := rp.base.WithContext(rp.base.Context())
	req.Method, req.URL, req.RequestURI = e.Method, &u, u.RequestURI()
	req.Form, req.PostForm, req.MultipartForm = form, post, nil
	req.Body, req.ContentLength = http.NoBody, 0
	return req
}

// describe names a journal entry for a divergence message.
func describe(e *journal.Entry) string {
	switch e.Kind {
	case journal.Input:
		return "the request of step " + strconv.Itoa(e.Step) + " (a call of Next)"
	case journal.Once:
		return fmt.Sprintf("Once(%q) at step %d", e.Name, e.Step)
	case journal.Barrier:
		return "Barrier at step " + strconv.Itoa(e.Step)
	}
	return e.Kind.String() + " at step " + strconv.Itoa(e.Step)
}

// replace ends the live run r in favour of a replay: r is dead from now
// (its Next ends its goroutine), and its deferred end starts the
// successor. The replay bound starts now.
func (r *Handle) replace(rp *replayer) {
	j := r.s.j.Load()
	rp.start = time.Now()
	rp.ex.armReplay(j.cfg.Timeout, nil)
	j.successor = &Handle{s: r.s, rp: rp}
	r.dead = true
}

// handOver starts the successor of the dead run r. A session's first run
// then waits for the last, so that Run returns only when the session has
// ended.
func (s *Session) handOver(r *Handle, v any, first bool) {
	if v != nil && v != http.ErrAbortHandler && s.logger != nil {
		s.logger.Error("continuity: panic in a replaced run of the session", "session", s.logID, "panic", v, "stack", string(debug.Stack()))
	}
	j := s.j.Load()
	next := j.successor
	j.successor = nil
	j.step, j.barrier = -1, -1
	j.versions = nil
	j.newStep()
	done := j.runsDone
	if done == nil {
		done = make(chan struct{})
		j.runsDone = done
	}
	s.setReplaying(true)
	go s.run(next, false)
	if first {
		<-done
	}
}

func (s *Session) setReplaying(on bool) {
	s.mu.Lock()
	s.replaying = on
	s.mu.Unlock()
}

// waitBranches waits for the forked branches of a browser's session.
func (s *Session) waitBranches() {
	if j := s.j.Load(); j != nil && j.fam.root == s {
		j.fam.wg.Wait()
	}
}

// replayNext delivers the next recorded request to the replayed flow. At
// the end of the journal the flow is back at the live step: a rewind then
// takes the live request as the next input; a re-show (whose last step
// went to the live request) returns errLive, and the caller waits for
// live requests.
func (r *Handle) replayNext() error {
	rp, j, s := r.rp, r.s.j.Load(), r.s
	if s.isCancelled() {
		s.replayed(rp, s.causeOf())
		return ErrSessionClosed
	}
	if rp.skipVersions() {
		e := &rp.entries[rp.pos]
		if e.Kind != journal.Input || e.Step != j.step+1 {
			return r.diverge("at step %d the flow called Next, but the journal has %s", j.step, describe(e))
		}
		rp.pos++
		j.step = e.Step
		j.newStep()
		rp.req = rp.request(e)
		r.status = 0
		if len(r.header) > 0 {
			clear(r.header)
		}
		if rp.mode == modeReshow && e.Step == rp.target {
			s.replayed(rp, nil)
			ex := rp.ex
			rp.ex, rp.live, r.ex = nil, true, ex
			ex.endReplay()
			if h := s.hooks; h != nil && h.RequestStart != nil {
				s.contain("RequestStart hook", func() { h.RequestStart(r) })
			}
		} else {
			rp.steps++
		}
		return nil
	}
	ex := rp.ex
	if rp.mode == modeReshow && ex != nil {
		return r.diverge("the journal ends at step %d, before the step to show again (%d)", j.step, rp.target)
	}
	s.replayed(rp, nil)
	j.settleRecorded(rp.entries)
	r.rp = nil
	s.setReplaying(false)
	if ex == nil {
		return errLive
	}
	if !rp.fork {
		j.rewound(rp.target)
	}
	ex.endReplay()
	r.accept(ex)
	return nil
}

// diverge ends the session because its replay diverged from the journal:
// the live request gets a page that says so, the log a line, and the
// session's context the error (wrapping ErrDivergence) as its cause.
func (r *Handle) diverge(format string, args ...any) error {
	s := r.s
	err := fmt.Errorf("%w: "+format, append([]any{ErrDivergence}, args...)...)
	if s.logger != nil {
		s.logger.Error("continuity: replay diverged from the journal; ending the session", "session", s.logID, "err", err.Error())
	}
	s.replayed(r.rp, err)
	ex := r.ex
	if rp := r.rp; rp != nil && rp.ex != nil {
		ex, rp.ex = rp.ex, nil
	} else if rp != nil && ex == nil {
		// A takeover's replay: the request that caused it waits in the
		// queue, and must hear why the session cannot go on, not be
		// mapped to a new session.
		ex = s.takeQueued()
	}
	r.ex, r.rp, r.capturing = nil, nil, false
	if ex != nil {
		writePage(ex, http.StatusInternalServerError, `<!doctype html><title>This session cannot go on</title><h1>This session cannot go on</h1>`+
			`<p>Going back to an earlier page means running this session again from its start, and this time it took a different path than the first time (the application does something between its steps that is not repeatable, or it has changed). The session has been ended; reload to start again.</p>`+
			`<pre>`+html.EscapeString(err.Error())+`</pre>`)
	}
	s.cancel(err)
	return err
}

// Diverge ends the session for a divergence the caller found (a recorded
// result that no longer decodes), as a mismatch at a journaled call does.
func (r *Handle) Diverge(format string, args ...any) error { return r.diverge(format, args...) }

// divergeReturned is the divergence of a replayed flow that returned
// before the live step.
func (r *Handle) divergeReturned() {
	j := r.s.j.Load()
	next := "the live request"
	if rp := r.rp; rp.skipVersions() {
		next = describe(&rp.entries[rp.pos])
	}
	r.diverge("the flow returned at step %d, but the journal goes on with %s", j.step, next)
}

// releaseLive finishes the live request of a replay that did not get to
// it: with the session ended meanwhile, it is mapped again (to a new
// session); after a panic, it gets a 500.
func (r *Handle) releaseLive(v any) {
	rp := r.rp
	if rp != nil && !rp.reported {
		err := r.s.causeOf()
		if err == nil {
			err = errReplayAborted
		}
		r.s.replayed(rp, err)
	}
	if rp == nil || rp.ex == nil {
		return
	}
	ex := rp.ex
	rp.ex = nil
	o := outRetry
	switch {
	case v == http.ErrAbortHandler:
		o = outAbort
	case v != nil:
		o = outPanic
	}
	ex.mu.Lock()
	ex.finishLocked(o)
	ex.mu.Unlock()
}

// IsReplaying reports whether the flow is being replayed.
func (r *Handle) IsReplaying() bool { return r.rp != nil }

// StaleReason says why the page being rendered answers a stale request.
func (r *Handle) StaleReason() StaleReason {
	if rp := r.rp; rp != nil && rp.live {
		return rp.stale
	}
	return NotStale
}

// SetStalePolicy sets the flow's own stale policy, turning journaling on.
func (r *Handle) SetStalePolicy(p StalePolicy) {
	if r.dead {
		return
	}
	j := r.journal()
	j.policy, j.policySet = p, true
}

// Once runs fn once for the flow and journals its result (JSON, made by
// the caller) or its error; replayed, it returns what was journaled
// without running fn. request.Once documents it.
func (r *Handle) Once(name string, fn func(ctx context.Context, key string) ([]byte, error)) ([]byte, error) {
	if r.dead {
		return nil, ErrSessionClosed
	}
	j := r.journal()
	key := j.onceKey(name)
	if rp := r.rp; rp != nil {
		if !rp.skipVersions() {
			return nil, r.diverge("at step %d the flow called Once(%q), which the journal does not have", j.step, name)
		}
		e := &rp.entries[rp.pos]
		if e.Kind != journal.Once || e.Name != name || e.Step != j.step {
			return nil, r.diverge("at step %d the flow called Once(%q), but the journal has %s", j.step, name, describe(e))
		}
		rp.pos++
		if e.Err != "" {
			return nil, &OnceError{Name: name, Msg: e.Err}
		}
		return e.Value, nil
	}
	v, err := fn(r.s.Context(), key)
	e := journal.Entry{Kind: journal.Once, Step: j.step, Name: name, Value: v}
	if err != nil {
		e.Value, e.Err = nil, err.Error()
		if e.Err == "" {
			e.Err = "error"
		}
	}
	j.append(e)
	return v, err
}

// An OnceError is the error a replayed Once returns when its function
// failed the first time: the journal keeps the error's text, not its
// type.
type OnceError struct {
	Name string // the Once's name
	Msg  string // the text of the original error
}

// Error returns the original error's text.
func (e *OnceError) Error() string { return e.Msg }

// Barrier marks the current step as one the flow cannot be rewound to
// before; request.Request.Barrier documents it. A replayed flow whose
// Barrier the journal does not have diverges, and the goroutine ends.
func (r *Handle) Barrier() {
	if r.dead {
		return
	}
	j := r.journal()
	if rp := r.rp; rp != nil {
		if !rp.skipVersions() {
			r.diverge("at step %d the flow called Barrier, which the journal does not have", j.step)
			runtime.Goexit()
		}
		e := &rp.entries[rp.pos]
		if e.Kind != journal.Barrier || e.Step != j.step {
			r.diverge("at step %d the flow called Barrier, but the journal has %s", j.step, describe(e))
			runtime.Goexit()
		}
		rp.pos++
	} else {
		j.append(journal.Entry{Kind: journal.Barrier, Step: j.step})
	}
	j.barrier = j.step
}

// errTooManyBranches refuses a fork when every branch is busy.
var errTooManyBranches = errors.New("continuity: too many forked tabs")
