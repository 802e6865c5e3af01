package handoff

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// admit decides what a request, just taken by the live run r of a
// journaling session, does to the flow. It reports true when the request
// is the flow's next input: the caller accepts it. Otherwise the session
// has answered it itself, or handed it to a replay (then r is dead), or
// to a forked branch.
//
//   - No token: the next input if the current step's page has none;
//     otherwise (a reload, a bookmark, a link from elsewhere) the current
//     page is shown again, and nothing advances.
//   - A token that does not verify (forged, or another session's): 403.
//   - A token of a step or timeline the session has not reached: its
//     journal lost its last steps (a shared store that crashed): 409,
//     saying so, with a link to the step the session is at.
//   - The current step's token: the next input. A view link to it shows
//     the page again.
//   - The previous step's token with the very input that led to the
//     current step (a double submit, or the second of two requests in
//     flight): the page the first one got.
//   - An earlier step's token, from before the last Barrier: 409.
//   - Any other earlier step's: the stale policy (reject: the current page
//     again; rewind: back to that step; fork: a branch for that tab).
func (r *Handle) admit(ex *exchange) bool {
	j := r.s.j.Load()
	if j.step < 0 {
		return true // no page has been rendered: nothing can be stale
	}
	k := tokenOf(ex.r)
	if k == "" {
		if !j.tokenized {
			return true
		}
		r.reshow(ex, StaleReload)
		return false
	}
	t, ok := j.verify(k)
	if !ok {
		j.answer(ex, http.StatusForbidden, "Invalid step token",
			"This page was not issued to your session (it may belong to an earlier one), or its address was altered, so it was not acted on.", true)
		return false
	}
	if t.branch != j.branch {
		j.answer(ex, http.StatusGone, "This tab has ended",
			"The separate copy of the flow that this page belongs to has ended.", true)
		return false
	}
	step, ok := j.history(t)
	switch {
	case j.ahead(t):
		if l := r.s.logger; l != nil {
			l.Warn("continuity: a page is ahead of its journal: the journal store lost the session's last steps", "session", r.s.logID, "page_step", t.step, "page_timeline", t.gen, "journal_step", j.step, "journal_timeline", j.gen)
		}
		j.answer(ex, http.StatusConflict, "Some of your steps were lost",
			"The page you used is from a later step than this site has a record of: it lost the record of your last steps (its session store failed). Your session goes on from an earlier step; check what you see there and repeat what is missing.", true)
	case !ok:
		r.reshow(ex, StaleBack)
	case t.view:
		why := NotStale
		if step != j.step {
			why = StaleBack
		}
		r.reshow(ex, why)
	case step == j.step:
		return true
	case step == j.step-1 && j.last.equal(ex.r):
		if c := &j.cache; c.ok && c.step == j.step && c.gen == j.gen {
			j.serveCached(ex)
		} else {
			r.reshow(ex, NotStale) // the page was not kept (streamed, or too big)
		}
	case step < j.barrier:
		j.answer(ex, http.StatusConflict, "This can no longer be changed",
			"The page you used belongs to a step that has been completed and cannot be gone back to (for example, an order was placed).", true)
	default:
		switch j.stalePolicy() {
		case Rewind:
			r.rewind(ex, step)
		case Fork:
			r.fork(ex, step)
		default:
			r.reshow(ex, StaleBack)
		}
	}
	return false
}

func (j *journalState) stalePolicy() StalePolicy {
	if j.policySet {
		return j.policy
	}
	return j.cfg.Policy
}

// reshow answers ex with the current step's page, rendered again by a
// replay; a flow that cannot be replayed gets the page kept for double
// submits, if it is the current one.
func (r *Handle) reshow(ex *exchange, why StaleReason) {
	j := r.s.j.Load()
	if entries, ok := j.timeline(j.step); ok {
		r.replace(&replayer{entries: entries, mode: modeReshow, target: j.step, ex: ex, base: ex.r, stale: why})
		return
	}
	if c := &j.cache; c.ok && c.step == j.step && c.gen == j.gen {
		j.serveCached(ex)
		return
	}
	j.answer(ex, http.StatusGone, "This page has expired",
		"This page can no longer be shown again: the session's history is not kept (it started after the first step, or it grew past its limit).", false)
}

// rewind answers ex by going back to step: a replay brings the flow to
// it, and ex is its next input.
func (r *Handle) rewind(ex *exchange, step int) {
	j := r.s.j.Load()
	entries, ok := j.timeline(step)
	if !ok {
		j.tooOld(ex)
		return
	}
	r.replace(&replayer{entries: entries, mode: modeRewind, target: step, ex: ex, base: ex.r})
}

func (j *journalState) tooOld(ex *exchange) {
	j.answer(ex, http.StatusGone, "Too old to go back to",
		"The page you used is too old to go back to: the session's history is not kept that far back.", true)
}

// serveCached answers ex with the kept page.
func (j *journalState) serveCached(ex *exchange) {
	c := &j.cache
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.state != exTaken {
		return
	}
	h := ex.w.Header()
	for k, v := range c.header {
		if k == "Set-Cookie" {
			h[k] = append(h[k], v...)
			continue
		}
		h[k] = v
	}
	if _, ok := h["Content-Type"]; !ok {
		h.Set("Content-Type", "text/html; charset=utf-8")
	}
	ex.armWriteLocked()
	ex.w.WriteHeader(c.status)
	ex.wroteHeader, ex.direct = true, true // written here, not buffered for settle
	ex.w.Write(c.body)
	ex.finishLocked(outServed)
}

// answer answers ex with a short page of the session's own, with a link
// to the current step if link is set.
func (j *journalState) answer(ex *exchange, status int, title, text string, link bool) {
	body := `<!doctype html><title>` + html.EscapeString(title) + `</title><h1>` + html.EscapeString(title) + `</h1><p>` + html.EscapeString(text) + `</p>`
	if link {
		body += `<p><a href="` + html.EscapeString(j.here(ex.r.URL.Path)) + `">Go to the page you are at</a></p>`
	}
	writePage(ex, status, body)
}

// writePage answers ex, which the session holds, with an HTML page.
func writePage(ex *exchange, status int, body string) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.state != exTaken {
		return
	}
	if !ex.wroteHeader {
		h := ex.w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		ex.armWriteLocked()
		ex.w.WriteHeader(status)
		ex.wroteHeader, ex.direct = true, true // written here, not buffered for settle
		io.WriteString(ex.w, body)
		ex.finishLocked(outServed)
		return
	}
	// The response had started: a clean end would pass it off as whole.
	ex.finishLocked(outAbort)
}

// here is a link that shows the current step's page again: its path,
// with a view token (a view never feeds the step) and, in ByQuery mode,
// the session. The link is relative to from, the path of the request it
// answers: an app mounted under a prefix (adapter.Mount, StripPrefix) sees
// paths without it, and a relative link keeps the browser under it.
func (j *journalState) here(from string) string {
	path := j.last.path
	if path == "" {
		path = "/"
	}
	tok := j.sign(stepToken{step: j.step, branch: j.branch, gen: j.gen, view: true})
	q := url.Values{TokenParam: {tok}}
	if s := j.s; s.queryParam != "" && s.token != "" {
		q.Set(s.queryParam, s.token)
	}
	return (&url.URL{Path: relativePath(from, path), RawQuery: q.Encode()}).String()
}

// relativePath is the reference that leads from a page at path from to
// the path to: "../b/c" from "/a/x" to "/b/c", "./" for the directory
// itself. Both are absolute, cleaned paths.
func relativePath(from, to string) string {
	dir := strings.Split(from[:strings.LastIndexByte(from, '/')+1], "/")
	dir = dir[1 : len(dir)-1] // the segments of from's directory
	target := strings.Split(to, "/")[1:]
	common := 0
	for common < len(dir) && common < len(target)-1 && dir[common] == target[common] {
		common++
	}
	rel := strings.Repeat("../", len(dir)-common) + strings.Join(target[common:], "/")
	if rel == "" || strings.HasSuffix(rel, "../") && target[len(target)-1] == "" {
		return "./" + rel
	}
	if first, _, _ := strings.Cut(rel, "/"); strings.Contains(first, ":") {
		rel = "./" + rel // not a scheme
	}
	return rel
}
