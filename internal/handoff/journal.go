package handoff

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/continuity-go/continuity/journal"
)

// StalePolicy says what a session does with a stale request, one that
// carries the token of an earlier step than the current one;
// request.StalePolicy documents the policies.
type StalePolicy uint8

// Stale policies.
const (
	Reject StalePolicy = iota
	Rewind
	Fork
)

// StaleReason says why a re-shown page answers a stale request;
// request.StaleReason documents it.
type StaleReason uint8

// Stale reasons.
const (
	NotStale StaleReason = iota
	StaleReload
	StaleBack
)

// Replay configures step tokens, the journal and replay. A server's
// sessions share one; it must not change once sessions exist.
type Replay struct {
	// Policy is what a stale request does, unless the flow sets its own.
	Policy StalePolicy
	// Store keeps the journals. Nil gives each journaling session a
	// private in-memory store with the default caps.
	Store journal.Store
	// MaxEntries and MaxBytes cap each session's journal (whatever the
	// store's own caps). Zero means the journal package's defaults;
	// negative means no cap.
	MaxEntries int
	MaxBytes   int64
	// Timeout bounds a replay, from the stale request's take until the
	// flow is back at the live step. Zero means no bound.
	Timeout time.Duration
	// Key signs step tokens (HMAC-SHA256). Nil means a random key per
	// session.
	Key []byte
}

// Bounds on what a journaling session keeps.
const (
	maxCachedResponse = 1 << 20 // the page kept for a double submit
	maxTimelines      = 64      // older timelines whose tokens are still known
	maxBranches       = 16      // forked branches per browser session
)

// journalState is a session's journal state, made when its flow first
// asks for a step token or makes a journaled call. The session goroutine
// (the run of the flow that is current) owns it, except for fam, which
// handlers read.
type journalState struct {
	s      *Session
	cfg    *Replay
	store  journal.Store
	key    string // the session's journal in store
	nonce  [8]byte
	mac    hash.Hash
	sumBuf [sha256.Size]byte
	branch uint32  // 0 for the browser's own session
	fam    *family // the browser session and its forked branches; immutable

	step    int    // the index of the flow's current request (-1: none yet)
	gen     uint32 // the current timeline
	lastGen uint32
	older   []timeline // earlier timelines, oldest first

	// replayable: the journal holds every input since the flow's first
	// request, so the flow can be replayed. It is false when journaling
	// began after the first step, or the journal was dropped at its cap.
	replayable bool
	seq        uint64 // the sequence number of the last entry appended
	entries    int    // what the store holds for the session
	bytes      int64
	barrier    int // the step of the last Barrier; -1: none

	tokenized bool      // the current step's page asked for its token
	tok       string    // the current step's token, once made
	cbs       int       // callbacks bound in this step
	onces     []string  // the names of the Onces called in this step
	versions  []version // the versions this run of the flow has settled on
	undurable bool      // an append was not confirmed persisted (logged once)

	policy    StalePolicy
	policySet bool

	last  input    // the current step's request
	cache response // the page it produced, if it was kept
	cur   response // the page being produced

	successor *Handle       // the run that replaces the current one
	runsDone  chan struct{} // closed when the session's last run has ended
}

// timeline is an earlier timeline: its steps up to shared are the
// current timeline's too.
type timeline struct {
	gen    uint32
	shared int
}

// input is what a step took: the fields a double submit must repeat.
type input struct {
	method, path, query string
	form                url.Values
}

func inputOf(r *http.Request) input {
	return input{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, form: r.PostForm}
}

func (in *input) equal(r *http.Request) bool {
	if in.method != r.Method || in.path != r.URL.Path || in.query != r.URL.RawQuery || len(in.form) != len(r.PostForm) {
		return false
	}
	for k, vs := range in.form {
		ws, ok := r.PostForm[k]
		if !ok || len(ws) != len(vs) {
			return false
		}
		for i := range vs {
			if vs[i] != ws[i] {
				return false
			}
		}
	}
	return true
}

// response is a page kept whole: the answer to a double submit.
type response struct {
	ok     bool
	step   int
	gen    uint32
	status int
	header http.Header
	body   []byte
}

// journal returns the session's journal state, turning journaling on.
func (r *Handle) journal() *journalState {
	if j := r.s.j.Load(); j != nil {
		return j
	}
	return r.s.startJournal(r)
}

// startJournal turns journaling on for the live run r. If the flow is at
// its first request (or before it), every input will be in the journal
// and the flow can be replayed; later, the journal serves tokens and
// double submits only.
func (s *Session) startJournal(r *Handle) *journalState {
	j := s.newJournal(nil, 0)
	switch {
	case r.seen == 0:
		j.step = -1
		j.replayable = true
	case r.seen == 1 && r.ex != nil:
		j.step = 0
		j.replayable = true
		j.last = inputOf(r.ex.r)
		j.append(inputEntry(0, r.ex.r))
	default:
		// Earlier inputs are gone; step numbers only label tokens now.
		j.step = 1
		if r.ex != nil {
			j.last = inputOf(r.ex.r)
		}
	}
	s.j.Store(j)
	return j
}

// newJournal makes journal state for s: a new browser session's (parent
// nil), or branch's, forked from parent.
func (s *Session) newJournal(parent *journalState, branch uint32) *journalState {
	cfg := s.replay
	if cfg == nil {
		cfg = &Replay{}
	}
	j := &journalState{s: s, cfg: cfg, store: cfg.Store, branch: branch, barrier: -1, step: -1}
	if parent != nil {
		j.store, j.nonce, j.fam = parent.store, parent.nonce, parent.fam
		j.key = parent.fam.key + "/b" + strconv.FormatUint(uint64(branch), 10)
		j.mac = hmac.New(sha256.New, parent.macKey())
		return j
	}
	if j.store == nil {
		j.store = journal.NewMemory(journal.Limits{MaxEntries: cfg.MaxEntries, MaxBytes: cfg.MaxBytes})
	}
	rand.Read(j.nonce[:])
	if s.owned != nil {
		s.ownJournal(j)
	}
	key := cfg.Key
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	}
	j.mac = hmac.New(sha256.New, key)
	j.fam = &family{root: s, key: s.logID + "." + hex.EncodeToString(j.nonce[:]), macKey: key}
	if o := s.owned; o != nil {
		j.fam.key = o.Key
	}
	j.key = j.fam.key
	return j
}

func (j *journalState) macKey() []byte { return j.fam.macKey }

func inputEntry(step int, r *http.Request) journal.Entry {
	return journal.Entry{Kind: journal.Input, Step: step, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Form: r.PostForm}
}

// newStep resets what belongs to one step.
func (j *journalState) newStep() {
	j.tokenized, j.tok, j.cbs = false, "", 0
	j.onces = j.onces[:0]
}

// took journals req, which the live run r has just taken as its next
// input, before the flow sees it, and starts keeping the response.
func (j *journalState) took(r *Handle, req *http.Request) {
	j.step++
	j.newStep()
	j.last = inputOf(req)
	j.append(inputEntry(j.step, req))
	r.capturing = true
	j.cur.ok, j.cur.step, j.cur.gen, j.cur.status = true, j.step, j.gen, http.StatusOK
	j.cur.header, j.cur.body = nil, j.cur.body[:0]
}

// captureHead keeps the head of the response being produced.
func (j *journalState) captureHead(status int, h http.Header) {
	j.cur.status = status
	if len(h) > 0 {
		j.cur.header = h.Clone()
	}
}

// capture keeps what the flow writes, up to the bound.
func (j *journalState) capture(p []byte, s string) {
	if !j.cur.ok {
		return
	}
	if len(j.cur.body)+len(p)+len(s) > maxCachedResponse {
		j.cur.ok, j.cur.body = false, nil
		return
	}
	j.cur.body = append(j.cur.body, p...)
	j.cur.body = append(j.cur.body, s...)
}

// keepResponse keeps the page just sent whole, for a double submit.
func (j *journalState) keepResponse() {
	if !j.cur.ok {
		return
	}
	j.cache, j.cur = j.cur, j.cache
	j.cur.ok, j.cur.header, j.cur.body = false, nil, j.cur.body[:0]
}

// onceKey is the idempotency key of a Once named name in this step.
func (j *journalState) onceKey(name string) string {
	n := 0
	for _, o := range j.onces {
		if o == name {
			n++
		}
	}
	j.onces = append(j.onces, name)
	k := hex.EncodeToString(j.nonce[:]) + "/" + strconv.FormatUint(uint64(j.branch), 10) + "." +
		strconv.FormatUint(uint64(j.gen), 10) + "/" + strconv.Itoa(j.step) + "/" + name
	if n > 0 {
		k += "#" + strconv.Itoa(n+1)
	}
	return k
}

// over reports whether n more entries of size bytes would pass a cap.
func (j *journalState) over(n int, size int64) bool {
	c := j.cfg
	maxE, maxB := c.MaxEntries, c.MaxBytes
	if maxE == 0 {
		maxE = journal.DefaultMaxEntries
	}
	if maxB == 0 {
		maxB = journal.DefaultMaxBytes
	}
	return (maxE > 0 && j.entries+n > maxE) || (maxB > 0 && j.bytes+size > maxB)
}

// append journals e, if the journal is kept. At a cap, it first drops the
// entries of abandoned timelines; if the current timeline alone passes
// the cap, the journal is dropped: the flow runs on, but can no longer be
// replayed.
func (j *journalState) append(e journal.Entry) {
	if !j.replayable {
		return
	}
	size := int64(e.Size())
	if j.over(1, size) && (!j.compact() || j.over(1, size)) {
		j.drop("it reached its cap")
		return
	}
	err := j.store.Append(j.s.Context(), j.key, j.seq+1, e)
	if errors.Is(err, journal.ErrFull) && j.compact() {
		err = j.store.Append(j.s.Context(), j.key, j.seq+1, e)
	}
	switch {
	case err == nil:
		j.seq++
		j.entries++
		j.bytes += size
	case errors.Is(err, journal.ErrFull):
		j.drop("the store refused it at its cap")
	case errors.Is(err, journal.ErrFenced):
		j.s.fence(err)
	case errors.Is(err, journal.ErrNotDurable):
		// Appended, but not confirmed on disk: the flow goes on (the
		// journal is whole), and the operator hears of it once.
		j.seq++
		j.entries++
		j.bytes += size
		if l := j.s.logger; l != nil && !j.undurable {
			j.undurable = true
			l.Warn("continuity: a durable flow's step could not be confirmed persisted; it goes on (further such steps are not logged)", "session", j.s.logID, "err", err.Error())
		}
	default:
		j.drop("the store failed: " + err.Error())
	}
}

// compact rewrites the journal as its current timeline, reporting
// whether that freed anything.
func (j *journalState) compact() bool {
	es, err := j.store.Load(j.s.Context(), j.key)
	if err != nil {
		return false
	}
	tl := journal.Timeline(es)
	kept := len(tl)
	if j.gen > 0 {
		kept++ // the numbering
	}
	if kept >= len(es) {
		return false
	}
	if err := j.store.Delete(j.s.Context(), j.key); err != nil {
		return false
	}
	j.seq, j.entries, j.bytes = 0, 0, 0
	if j.gen > 0 {
		// The Rewinds that numbered the timelines are gone: say which one
		// the entries are on, for a node that takes the session over.
		tl = append([]journal.Entry{{Kind: journal.Rewind, Step: -1, Value: strconv.AppendUint(nil, uint64(j.gen), 10)}}, tl...)
	}
	for _, e := range tl {
		if err := j.store.Append(j.s.Context(), j.key, j.seq+1, e); err != nil {
			j.drop("the store failed while compacting it: " + err.Error())
			return false
		}
		j.seq++
		j.entries++
		j.bytes += int64(e.Size())
	}
	return true
}

// drop gives up the journal: replay needs every input from the flow's
// first request on, so a journal missing any is of no use.
func (j *journalState) drop(why string) {
	j.store.Delete(context.Background(), j.key)
	j.replayable = false
	j.seq, j.entries, j.bytes = 0, 0, 0
	if l := j.s.logger; l != nil {
		l.Warn("continuity: session journal dropped; the session can no longer go back to earlier steps", "session", j.s.logID, "reason", why)
	}
}

// forget deletes the journal of a session that has ended.
func (j *journalState) forget() {
	if j.s.owned != nil && j.branch == 0 {
		j.s.forgetOwned(j)
		return
	}
	j.store.Delete(context.Background(), j.key)
}

// timeline returns the journal's current timeline up to step upTo, for a
// replay; false if the flow cannot be replayed.
func (j *journalState) timeline(upTo int) ([]journal.Entry, bool) {
	if !j.replayable {
		return nil, false
	}
	es, err := j.store.Load(j.s.Context(), j.key)
	if err != nil {
		if l := j.s.logger; l != nil {
			l.Error("continuity: cannot load the session journal", "session", j.s.logID, "err", err)
		}
		return nil, false
	}
	tl := journal.Timeline(es)
	n := len(tl)
	for n > 0 && tl[n-1].Step > upTo {
		n--
	}
	if n == 0 {
		return nil, false
	}
	return tl[:n], true
}

// rewound starts a new timeline at step t: the entries after it are
// abandoned, and the tokens of the old timeline's later steps stop
// naming steps of the flow.
func (j *journalState) rewound(t int) {
	j.append(journal.Entry{Kind: journal.Rewind, Step: t, Value: strconv.AppendUint(nil, uint64(j.lastGen+1), 10)})
	j.restoreRewind(t, j.lastGen+1)
}

// restored numbers the timelines as the journal es did, from its Rewind
// entries: a session taken over must read its pages' tokens as the node
// that made them did.
func (j *journalState) restored(es []journal.Entry) {
	for i := range es {
		e := &es[i]
		if e.Kind != journal.Rewind {
			continue
		}
		gen := j.lastGen + 1
		if n, err := strconv.ParseUint(string(e.Value), 10, 32); err == nil && uint32(n) > j.lastGen {
			gen = uint32(n)
		}
		if e.Step < 0 { // a compacted journal's numbering
			j.lastGen, j.gen = gen, gen
			continue
		}
		j.restoreRewind(e.Step, gen)
	}
}

// restoreRewind starts timeline gen at step t, as rewound does, without
// journaling it.
func (j *journalState) restoreRewind(t int, gen uint32) {
	for i := range j.older {
		j.older[i].shared = min(j.older[i].shared, t)
	}
	j.older = append(j.older, timeline{gen: j.gen, shared: t})
	if len(j.older) > maxTimelines {
		j.older = append(j.older[:0], j.older[1:]...)
	}
	j.lastGen, j.gen = gen, gen
}

// ahead reports whether t is from a step or timeline the session has not
// reached. Tokens are signed, so only a session that lost the end of its
// journal (a store that crashed before persisting it) meets one.
func (j *journalState) ahead(t stepToken) bool {
	return t.gen > j.lastGen || (t.gen == j.gen && t.step > j.step)
}

// history maps a token to a step of the current timeline; false if the
// page it came from is on no timeline the flow can return to.
func (j *journalState) history(t stepToken) (int, bool) {
	if t.step < 0 {
		return 0, false
	}
	if t.gen == j.gen {
		return t.step, t.step <= j.step
	}
	for _, tl := range j.older {
		if tl.gen == t.gen {
			return t.step, t.step <= tl.shared
		}
	}
	return 0, false
}
