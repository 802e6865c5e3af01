package request

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"time"

	"github.com/continuity-go/continuity/internal/handoff"
)

// Back button, double submit and tabs.
//
// A flow runs forward only, so a browser that goes back, submits twice or
// opens a second tab would feed an old page's input to a later step. Step
// tokens stop that: a page embeds its step's token ([Request.StepField],
// [Request.StepURL]), and a request that carries an earlier step's token
// is stale. What a stale request does is the session's [StalePolicy].
// Going back works by replay: the session records each step's input in a
// journal and, to return to step k, runs the flow again from its start on
// a fresh goroutine, feeding it the recorded inputs with its output
// discarded. So a flow that uses step tokens must be replay-safe: between
// two Next calls it must do the same thing given the same input. Anything
// else (the clock, random numbers, calls to other services, reading data
// that changes) goes through [Once], [Request.Now] or [Request.Random],
// which record their result the first time and return it on replay.
//
// A flow that never asks for a step token (nor calls Once, Barrier,
// Version or SetStalePolicy) has no journal and pays nothing for this.

// TokenParam is the query or form parameter that carries a step token.
const TokenParam = "k"

// A StalePolicy says what a session does with a stale request: one that
// carries the step token of an earlier step than the current one (the back
// button, or a second tab). Whatever the policy, a request that repeats
// the previous step's submission exactly (a double click, a resubmitted
// POST) gets the page the first one got, and a token from before a
// [Request.Barrier] gets 409.
type StalePolicy uint8

// Stale policies.
const (
	// Reject, the default, advances nothing: the browser gets the current
	// step's page again, rendered with [Request.Stale] true so that it can
	// say so ("that page had expired; here is where you are").
	Reject StalePolicy = iota
	// Rewind goes back: the flow continues from the step the token
	// belongs to, as if the later steps had not happened (replayed to that
	// step, it takes the request as that step's input).
	Rewind
	// Fork gives the stale request's tab a flow of its own: a new session,
	// a branch, replayed to the token's step, takes the request there;
	// from then on the branch's pages carry its tokens, and the original
	// flow and the branch carry on independently (say, two tabs of a shop
	// checking out two orders).
	Fork
)

// String names the policy.
func (p StalePolicy) String() string {
	switch p {
	case Reject:
		return "reject"
	case Rewind:
		return "rewind"
	case Fork:
		return "fork"
	}
	return fmt.Sprintf("StalePolicy(%d)", uint8(p))
}

// A StaleReason says why the page being rendered answers a stale request.
type StaleReason uint8

// Stale reasons.
const (
	// NotStale: the page answers the flow's next input, as usual.
	NotStale StaleReason = iota
	// StaleReload: the request carried no step token while the current
	// step's page has one: a reload, a bookmark, a link from elsewhere.
	StaleReload
	// StaleBack: the request carried an earlier step's token (the back
	// button, another tab) and the policy re-shows the current page.
	StaleBack
)

// String names the reason.
func (s StaleReason) String() string {
	switch s {
	case NotStale:
		return "not stale"
	case StaleReload:
		return "reload"
	case StaleBack:
		return "back"
	}
	return fmt.Sprintf("StaleReason(%d)", uint8(s))
}

// ErrDivergence is wrapped by the error that ends a session whose replay
// did not follow its journal: at some journaled call (Next, Once,
// Barrier) the replayed flow did something else than the first time, made
// a call the journal does not have, or returned early. The error's text
// names both sides. The browser gets a page that says the session cannot
// go on; context.Cause of the session's context is the error.
var ErrDivergence = handoff.ErrDivergence

// StepToken returns the current step's token, an unguessable string bound
// to this session and this step. Calling it (or [Request.StepField] or
// [Request.StepURL]) marks the step tokenized: its page then accepts input
// only with the token, so a request without one (a reload, a link from
// another site) advances nothing and gets the page again (with
// [Request.Stale] true), and one with an earlier step's token is stale.
// The first call in a session turns its journal on; call it on the flow's
// first page (or call [Request.SetStalePolicy] first thing) so that the
// journal holds every step and the flow can be replayed.
func (r *Request) StepToken() string { return r.h().StepToken() }

// StepField returns the hidden form field that carries the current step's
// token, <input type="hidden" name="k" value="TOKEN">, for every form of
// the page (in ByQuery mode it is preceded by one carrying the session).
// It marks the step tokenized; see [Request.StepToken].
func (r *Request) StepField() template.HTML { return template.HTML(r.h().StepField()) }

// StepURL returns u with the current step's token added to its query as
// k=TOKEN (and, in ByQuery mode, the session parameter if u lacks it), for
// the page's links. It marks the step tokenized; see [Request.StepToken].
func (r *Request) StepURL(u string) string { return r.h().StepURL(u) }

// Stale reports whether the page being rendered answers a stale request
// rather than the flow's next input: the request carried no token, or an
// earlier step's, and the session shows the current step's page again.
// Show a notice, such as "that page had expired; here is where you are".
// [Request.StaleReason] tells which.
func (r *Request) Stale() bool { return r.h().StaleReason() != handoff.NotStale }

// StaleReason says why the page being rendered answers a stale request,
// or [NotStale].
func (r *Request) StaleReason() StaleReason { return StaleReason(r.h().StaleReason()) }

// IsReplaying reports whether the flow is being replayed: its steps are
// run again to bring it back to an earlier step, or to render the current
// one again, and their output goes nowhere. Mute logs and skip metrics
// while it is true; never let it change what the flow does.
func (r *Request) IsReplaying() bool { return r.h().IsReplaying() }

// Barrier marks the current step as a point of no return (an order
// placed, a payment made): the flow can never be rewound to a step before
// it, and a request carrying an earlier step's token gets 409 "this can no
// longer be changed", with a link to the current step. The step's own
// double submit still gets the page it got the first time. Barrier is a
// journaled call: a replay that reaches a different Barrier, or none,
// diverges (and then Barrier ends the goroutine).
func (r *Request) Barrier() { r.h().Barrier() }

// Version returns the version of a changed part of the flow that this
// session runs, for changing a flow while sessions recorded by its old
// code are still replayed: after a deploy (on another node, or this one
// restarted), or by the back button. Name the change and give the newest
// version the code knows; branch on the result:
//
//	if r.Version("ask-phone", 1) >= 1 {
//		// the new step: only sessions that reach here on the new code
//	}
//
// A session's first call of a name settles its version for the rest of
// the session: a session that reaches the call live gets max, and the
// journal records it; a replay gets the recorded version, or 0 if the
// session was recorded by code from before the change (which never
// asked). So a session recorded by the old code stays on the old path,
// also after its replay, as it goes on live. A replay that finds a
// recorded version above max (the deploy was rolled back) diverges, and
// Version ends the goroutine. A max below 0 counts as 0.
//
// Version calls are matched by name, not by place: a call can move, and
// can be removed once no session recorded before it remains. Version
// turns the session's journal on. It does not make a change safe by
// itself: code that differs between versions must be behind it, and a
// change of the steps' order that no journaled call notices cannot be
// detected (see README "Replay rules").
func (r *Request) Version(name string, max int) int { return r.h().Version(name, max) }

// Durable asks that from now on each step of this flow be persisted
// before it is answered: with a shared journal (Options.Journal a
// redistore.JournalStore), each step's input waits until Redis has it on
// disk (WAITAOF on Redis 7.2+; on an older Redis, only a server with
// appendfsync always can confirm it), so that a crash of Redis itself
// loses no step the browser saw answered. Call it first thing in flows
// that take orders or payments; it costs a disk write per step (see
// README "Several nodes"). When a step cannot be confirmed persisted
// (Redis cannot, or not in time), the step goes on all the same and the
// server logs a warning once per session. Durable reports whether the
// session's journal can wait: false without a shared journal that
// supports it.
func (r *Request) Durable() bool { return r.h().Durable() }

// SetStalePolicy sets this flow's stale policy, overriding the server's
// (Options.StalePolicy). It also turns the session's journal on: call it
// first thing in the flow.
func (r *Request) SetStalePolicy(p StalePolicy) { r.h().SetStalePolicy(handoff.StalePolicy(p)) }

// Once runs fn and journals its result, so that a replay of the flow gets
// the same result without running fn again: wrap in Once everything a
// step does that is not repeatable (a payment, an email, an order number,
// a database write or a read of data that changes). fn's result is
// recorded as JSON (so T must survive encoding/json: exported fields) and
// Once returns the decoded copy, the first time as on replay; an error is
// recorded as its text and replayed as an [*OnceError].
//
// key is a stable idempotency key for the call: the session, its timeline,
// the step and name (with a count if the step calls the same name again).
// Pass it to the service fn calls. The guarantee is at least once: fn may
// run again if the session could not record its result (say, the
// process crashed first, with a durable journal); exactly once only where
// the service deduplicates on key. After going back past a Once, the
// flow's new timeline has new keys: the effect happens again, as it should
// for a changed order.
//
// name must be the same on every run of the flow at this point: a replay
// whose Once differs in name or place from the journal's diverges (the
// session ends; Once returns an error wrapping [ErrDivergence]). fn gets
// the session's context.
func Once[T any](r *Request, name string, fn func(ctx context.Context, key string) (T, error)) (T, error) {
	var out T
	b, err := r.h().Once(name, func(ctx context.Context, key string) ([]byte, error) {
		v, err := fn(ctx, key)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
	if err != nil {
		if oe, ok := errors.AsType[*handoff.OnceError](err); ok {
			return out, &OnceError{Name: oe.Name, Msg: oe.Msg}
		}
		return out, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		if r.IsReplaying() {
			// The flow's code changed since the result was recorded.
			return out, r.h().Diverge("Once(%q)'s recorded result does not decode into %T: %v", name, out, err)
		}
		return out, fmt.Errorf("continuity: Once(%q): its result does not decode back into %T: %w", name, out, err)
	}
	return out, nil
}

// An OnceError is returned by a replayed [Once] whose function failed the
// first time: the journal keeps the error's text, not its type.
type OnceError struct {
	Name string // the Once's name
	Msg  string // the text of the original error
}

// Error returns the original error's text.
func (e *OnceError) Error() string { return e.Msg }

// Now returns the current time, journaled: a replayed step gets the time
// it got the first time. Use it instead of time.Now in a flow with step
// tokens. (The result carries no monotonic clock reading.)
func (r *Request) Now() time.Time {
	t, err := Once(r, "continuity.Now", func(context.Context, string) (time.Time, error) { return time.Now(), nil })
	if err != nil {
		return time.Now() // diverged: the session is ending anyway
	}
	return t
}

// Random returns a random number from crypto/rand, journaled: a replayed
// step gets the number it got the first time. Seed a math/rand/v2 source
// with it for more.
func (r *Request) Random() uint64 {
	n, err := Once(r, "continuity.Random", func(context.Context, string) (uint64, error) {
		var b [8]byte
		rand.Read(b[:])
		return binary.LittleEndian.Uint64(b[:]), nil
	})
	if err != nil {
		var b [8]byte
		rand.Read(b[:])
		return binary.LittleEndian.Uint64(b[:])
	}
	return n
}
