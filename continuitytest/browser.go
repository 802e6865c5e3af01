// Package continuitytest drives web flows in tests the way a browser does,
// in the spirit of net/http/httptest: a [Browser] over any [http.Handler]
// (a continuity Server, typically) gets pages, fills in and submits their
// forms (hidden fields such as a step token included), follows links by
// their text, presses buttons, goes back in its history, reloads, opens a
// second tab on the same cookies, submits a form twice at once, and waits
// for a progress meter.
//
//	b := continuitytest.New(t, srv)
//	b.Get("/")
//	b.Submit(map[string]string{"name": "Ada"})
//	page := b.Click("Next")
//	assert.Contains(t, page.Text(), "Hello, Ada")
//
// [New] runs the handler in this process, with no sockets: each request is
// served on a goroutine of its own and its response streams back through
// memory. Every wait in it is one that [testing/synctest] counts as
// durably blocking, so a test in a bubble can let a browser sit idle past
// a server's timeouts exactly:
//
//	synctest.Test(t, func(t *testing.T) {
//		srv := newServer(t) // create the server inside the bubble
//		b := continuitytest.New(t, srv)
//		b.Get("/")
//		time.Sleep(idle + time.Second)
//		b.Get("/") // a new session
//	})
//
// [NewRemote] drives a real server over the network instead
// ([net/http/httptest.Server], say).
//
// Operations fail the test (with t.Fatalf) when the request cannot be made
// or the page lacks what they need; an error status is not a failure, it
// is a page like any other. A Browser and its tabs must be used from the
// test's goroutine; [Browser.Fetch] is the one operation that runs in the
// background.
package continuitytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TB is the part of [testing.TB] that a Browser uses: it fails the test
// with Fatalf and stops its requests in a Cleanup. *testing.T and
// *testing.B satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// BaseURL is the address of the server that [New] talks to in memory.
const BaseURL = "http://continuity.test/"

// maxRedirects is how many redirects a navigation follows, as browsers
// stop at about 20.
const maxRedirects = 20

// progressRetry is how long [Browser.WaitProgress] waits before asking
// again for a meter that does not exist yet.
const progressRetry = 5 * time.Millisecond

// A Browser is one tab of a browser: a history of pages over a cookie jar
// that it shares with the tabs opened from it by [Browser.NewTab].
type Browser struct {
	t       TB
	s       *shared
	history []*Page
	pos     int         // the current page's index in history; -1 for none
	last    *submission // the last form submission, for Resubmit
}

// shared is what a browser's tabs have in common.
type shared struct {
	client  *http.Client
	base    *url.URL
	ctx     context.Context // cancelled when the test ends
	fetches sync.WaitGroup
	pending atomic.Int32 // fetches in flight
}

// submission is one request a navigation starts with.
type submission struct {
	method      string
	url         *url.URL
	body        string
	contentType string
	site        string // Sec-Fetch-Site
	origin      string // Origin, if sent
	fetch       bool   // a script's request, not a navigation
}

// New returns a browser for h, served in memory at [BaseURL] (see the
// package documentation). The handler sees requests from a RemoteAddr of
// its own per browser (a random 2001:db8:: documentation address; tabs
// share it), with the headers a browser sends (Sec-Fetch-Site, and Origin
// on a POST), so cross-origin checks pass for same-origin forms. The
// requests in flight when the test ends are cancelled, and their handlers
// waited for, in a cleanup; inside a testing/synctest bubble, create the
// browser (and the server) inside the bubble.
func New(t TB, h http.Handler) *Browser {
	t.Helper()
	if h == nil {
		t.Fatalf("continuitytest: New: nil handler")
	}
	mt := newMemTransport(h)
	t.Cleanup(mt.close) // after the browser's cleanup, which cancels
	return newBrowser(t, BaseURL, mt)
}

// NewRemote returns a browser for the server at baseURL, reached through
// rt (http.DefaultTransport if nil): for a [net/http/httptest.Server] ts,
// NewRemote(t, ts.URL, ts.Client().Transport). Paths given to
// [Browser.Get] resolve against baseURL, which is taken to name a
// directory.
func NewRemote(t TB, baseURL string, rt http.RoundTripper) *Browser {
	t.Helper()
	if rt == nil {
		rt = http.DefaultTransport
	}
	return newBrowser(t, baseURL, rt)
}

func newBrowser(t TB, baseURL string, rt http.RoundTripper) *Browser {
	t.Helper()
	base, err := url.Parse(baseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		t.Fatalf("continuitytest: invalid base URL %q", baseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("continuitytest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &shared{
		client: &http.Client{
			Transport: rt,
			Jar:       jar,
			// The browser follows redirects itself, to record them.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		base: base,
		ctx:  ctx,
	}
	t.Cleanup(func() {
		cancel()
		s.fetches.Wait()
	})
	return &Browser{t: t, s: s, pos: -1}
}

// NewTab returns a second tab: it shares this browser's cookies (and so
// its sessions) but has a history of its own, empty at first.
func (b *Browser) NewTab() *Browser {
	return &Browser{t: b.t, s: b.s, pos: -1}
}

// Client returns the browser's HTTP client, for requests the Browser does
// not model: it sends and stores the browser's cookies, and does not
// follow redirects.
func (b *Browser) Client() *http.Client { return b.s.client }

// Page returns the current page, or nil before the first.
func (b *Browser) Page() *Page {
	if b.pos < 0 {
		return nil
	}
	return b.history[b.pos]
}

// Get navigates to ref, as if typed into the address bar: a path or URL
// resolved against the base URL ("/" is the server's root).
func (b *Browser) Get(ref string) *Page {
	b.t.Helper()
	u, err := b.s.base.Parse(ref)
	if err != nil {
		b.t.Fatalf("continuitytest: Get %q: %v", ref, err)
	}
	return b.navigate(&submission{method: http.MethodGet, url: u, site: "none"})
}

// Click follows the current page's first link whose text is text (see
// [Link]).
func (b *Browser) Click(text string) *Page {
	b.t.Helper()
	l := b.current("Click").Link(text)
	return b.navigate(b.from(&submission{method: http.MethodGet, url: l.URL}))
}

// Submit submits the current page's first form, with fields set by name,
// as the user who fills them in and presses Enter: the form's other
// fields, hidden ones included, keep their values, and its first submit
// button, if any, is pressed. See [Browser.SubmitForm] for how fields are
// set.
func (b *Browser) Submit(fields map[string]string) *Page {
	b.t.Helper()
	return b.SubmitForm("", fields)
}

// SubmitForm is [Browser.Submit] for the form whose name or id is form
// ("" for the first). A field named in fields gets that value; among
// checkboxes, radio buttons and the options of a multiple select sharing
// the name, the one with that value is checked and the others are not
// ("" unchecks them all). It fails the test if the form has no field of
// that name, as a user could not fill one in (use [Browser.Client] to
// send anything at all). Forms are sent GET or POST,
// application/x-www-form-urlencoded, to their action resolved against the
// page's URL.
func (b *Browser) SubmitForm(form string, fields map[string]string) *Page {
	b.t.Helper()
	f := b.current("Submit").Form(form)
	return b.navigate(b.submission(f, f.defaultButton(), fields))
}

// Press submits the form of the current page's first submit button whose
// label is text, with that button's name and value and with fields set as
// [Browser.SubmitForm] sets them (fields may be nil).
func (b *Browser) Press(text string, fields map[string]string) *Page {
	b.t.Helper()
	p := b.current("Press")
	var labels []string
	for _, f := range p.Forms {
		for i := range f.Buttons {
			if f.Buttons[i].Text == text {
				return b.navigate(b.submission(f, &f.Buttons[i], fields))
			}
			labels = append(labels, strconv.Quote(f.Buttons[i].Text))
		}
	}
	b.t.Fatalf("continuitytest: %s has no submit button %q (buttons: %s):\n%s", p.URL, text, strings.Join(labels, ", "), p.Body)
	return nil
}

// DoubleSubmit submits the current page's first form as [Browser.Submit]
// does, twice at once, as a double click does: both requests are in
// flight together, and it returns both pages, in the order they were
// sent (which of them the server takes first is up to it). The second
// becomes the current page, as a browser shows the answer to the last
// click.
func (b *Browser) DoubleSubmit(fields map[string]string) (first, second *Page) {
	b.t.Helper()
	f := b.current("DoubleSubmit").Form("")
	sub := b.submission(f, f.defaultButton(), fields)
	type result struct {
		p   *Page
		err error
	}
	var res [2]result
	var wg sync.WaitGroup
	for i := range res {
		wg.Go(func() {
			res[i].p, res[i].err = b.s.load(b.t, sub)
		})
	}
	wg.Wait()
	for _, r := range res {
		if r.err != nil {
			b.t.Fatalf("continuitytest: %v", r.err)
		}
	}
	b.push(res[1].p)
	return res[0].p, res[1].p
}

// Resubmit sends the last form submission of this tab again, the same
// values to the same place (not the request its redirects led to), as a
// user who presses the same button again.
func (b *Browser) Resubmit() *Page {
	b.t.Helper()
	if b.last == nil {
		b.t.Fatalf("continuitytest: Resubmit: no form submitted yet")
	}
	return b.navigate(b.last)
}

// Reload sends again the request that produced the current page, as the
// browser's reload button does: a page that answered a POST is POSTed
// again; a page reached by a redirect is reloaded from the redirect's
// target. The answer replaces the current page in the history.
func (b *Browser) Reload() *Page {
	b.t.Helper()
	p := b.current("Reload")
	np, err := b.s.load(b.t, p.req)
	if err != nil {
		b.t.Fatalf("continuitytest: %v", err)
	}
	b.history[b.pos] = np
	return np
}

// Back goes to the previous page in the history, as the back button
// does: it shows that page again, as it was, without a request, so that
// its forms (and their hidden fields) are the ones submitted next.
func (b *Browser) Back() *Page {
	b.t.Helper()
	if b.pos <= 0 {
		b.t.Fatalf("continuitytest: Back: no previous page")
	}
	b.pos--
	return b.history[b.pos]
}

// Forward undoes a [Browser.Back], without a request.
func (b *Browser) Forward() *Page {
	b.t.Helper()
	if b.pos+1 >= len(b.history) {
		b.t.Fatalf("continuitytest: Forward: no next page")
	}
	b.pos++
	return b.history[b.pos]
}

// Fetch GETs ref (resolved against the current page's URL, or the base
// URL before the first page) in the background, as a page's script
// would, and returns at once; the answer does not enter the history.
// Call Wait on the result, from the test's goroutine, for the page.
func (b *Browser) Fetch(ref string) *Pending {
	b.t.Helper()
	from := b.s.base
	if p := b.Page(); p != nil {
		from = p.URL
	}
	u, err := from.Parse(ref)
	if err != nil {
		b.t.Fatalf("continuitytest: Fetch %q: %v", ref, err)
	}
	sub := b.from(&submission{method: http.MethodGet, url: u, fetch: true})
	pd := &Pending{t: b.t, done: make(chan struct{})}
	b.s.pending.Add(1)
	b.s.fetches.Go(func() {
		defer close(pd.done)
		defer b.s.pending.Add(-1)
		pd.page, pd.err = b.s.load(b.t, sub)
	})
	return pd
}

// A Pending is a request started by [Browser.Fetch].
type Pending struct {
	t    TB
	done chan struct{}
	page *Page
	err  error
}

// Wait waits for the whole response and returns it. It fails the test if
// the request failed.
func (pd *Pending) Wait() *Page {
	pd.t.Helper()
	<-pd.done
	if pd.err != nil {
		pd.t.Fatalf("continuitytest: %v", pd.err)
	}
	return pd.page
}

// Progress is a progress meter's state as the status endpoint
// (GET _progress_status/NAME) answers it.
type Progress struct {
	Name       string   `json:"name"`
	ID         string   `json:"progress_id"`
	Total      int      `json:"total"`
	Count      int      `json:"count"`
	Messages   []string `json:"messages"`
	InProgress bool     `json:"in_progress"`
	Status     string   `json:"status"`
	Version    uint64   `json:"version"`
}

// WaitProgress waits until the progress meter name of the browser's
// session is no longer in progress, long-polling its status at
// _progress_status/NAME under the base URL (name may carry a query, such
// as "work?progress_id=7"), and returns its last state. While the meter
// does not exist yet and a [Browser.Fetch] of this browser is in flight
// (the request that starts the task, say), it asks again every few
// milliseconds; otherwise a status other than 200 fails the test.
func (b *Browser) WaitProgress(name string) Progress {
	b.t.Helper()
	u, err := b.s.base.Parse("_progress_status/" + name)
	if err != nil {
		b.t.Fatalf("continuitytest: WaitProgress %q: %v", name, err)
	}
	q := u.Query()
	seen := false
	for {
		u.RawQuery = q.Encode()
		p, err := b.s.load(b.t, b.from(&submission{method: http.MethodGet, url: u, fetch: true}))
		if err != nil {
			b.t.Fatalf("continuitytest: %v", err)
		}
		if p.Status == http.StatusNotFound && !seen && b.s.pending.Load() > 0 {
			time.Sleep(progressRetry)
			continue
		}
		if p.Status != http.StatusOK {
			b.t.Fatalf("continuitytest: WaitProgress: GET %s: %d %s", u, p.Status, p.Body)
		}
		var st Progress
		if err := json.Unmarshal([]byte(p.Body), &st); err != nil {
			b.t.Fatalf("continuitytest: WaitProgress: GET %s: %v in %s", u, err, p.Body)
		}
		if !st.InProgress {
			return st
		}
		seen = true
		q.Set("since", strconv.Itoa(st.Count))
		q.Set("version", strconv.FormatUint(st.Version, 10))
		q.Set("wait", "30s")
	}
}

// current returns the current page; it fails the test if there is none.
func (b *Browser) current(op string) *Page {
	b.t.Helper()
	p := b.Page()
	if p == nil {
		b.t.Fatalf("continuitytest: %s: no page yet (call Get first)", op)
	}
	return p
}

// submission builds the request that pressing button (nil for none) in
// f, with fields set, sends; it becomes the tab's last submission.
func (b *Browser) submission(f *Form, button *Button, fields map[string]string) *submission {
	b.t.Helper()
	filled, err := f.fill(fields)
	if err == nil {
		var sub *submission
		if sub, err = f.submission(filled, button); err == nil {
			b.last = b.from(sub)
			return b.last
		}
	}
	b.t.Fatalf("continuitytest: %s: %v", b.Page().URL, err)
	return nil
}

// from marks sub as started from the current page: its Sec-Fetch-Site,
// and its Origin if it is a POST.
func (b *Browser) from(sub *submission) *submission {
	p := b.Page()
	if p == nil {
		sub.site = "none"
		return sub
	}
	sub.site = "cross-site"
	if sameOrigin(p.URL, sub.url) {
		sub.site = "same-origin"
	}
	if sub.method == http.MethodPost {
		sub.origin = p.URL.Scheme + "://" + p.URL.Host
	}
	return sub
}

// navigate loads sub and makes the answer the current page, dropping the
// pages after the current one, as a browser does.
func (b *Browser) navigate(sub *submission) *Page {
	b.t.Helper()
	p, err := b.s.load(b.t, sub)
	if err != nil {
		b.t.Fatalf("continuitytest: %v", err)
	}
	b.push(p)
	return p
}

func (b *Browser) push(p *Page) {
	b.history = append(b.history[:b.pos+1], p)
	b.pos++
}

// load sends sub, follows redirects as a browser does, and reads the
// final page.
func (s *shared) load(t TB, sub *submission) (*Page, error) {
	var redirects []Redirect
	for {
		resp, err := s.send(sub)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", sub.method, sub.url, err)
		}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("%s %s: reading the body: %w", sub.method, sub.url, err)
			}
			u := *sub.url
			u.Fragment, u.RawFragment = "", ""
			p := &Page{
				URL:       &u,
				Status:    resp.StatusCode,
				Header:    resp.Header,
				Body:      string(body),
				Redirects: redirects,
				t:         t,
				text:      string(body),
				req:       sub,
			}
			if isHTML(resp.Header.Get("Content-Type")) {
				p.parse()
			}
			return p, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		to, err := sub.url.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %d with a bad Location %q: %w", sub.method, sub.url, resp.StatusCode, loc, err)
		}
		to.Fragment, to.RawFragment = "", ""
		redirects = append(redirects, Redirect{Method: sub.method, URL: sub.url, Status: resp.StatusCode, Location: to})
		if len(redirects) > maxRedirects {
			return nil, fmt.Errorf("%s %s: more than %d redirects", sub.method, sub.url, maxRedirects)
		}
		next := *sub
		next.url = to
		if !sameOrigin(sub.url, to) {
			next.site = "cross-site"
		}
		if (resp.StatusCode == http.StatusSeeOther && sub.method != http.MethodHead) ||
			((resp.StatusCode == http.StatusMovedPermanently || resp.StatusCode == http.StatusFound) && sub.method == http.MethodPost) {
			next.method, next.body, next.contentType, next.origin = http.MethodGet, "", "", ""
		}
		sub = &next
	}
}

// send makes one request with a browser's headers.
func (s *shared) send(sub *submission) (*http.Response, error) {
	var body io.Reader
	if sub.body != "" {
		body = strings.NewReader(sub.body)
	}
	u := *sub.url
	u.Fragment, u.RawFragment = "", ""
	req, err := http.NewRequestWithContext(s.ctx, sub.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("User-Agent", "continuitytest")
	h.Set("Sec-Fetch-Site", sub.site)
	if sub.fetch {
		h.Set("Accept", "*/*")
		h.Set("Sec-Fetch-Mode", "cors")
		h.Set("Sec-Fetch-Dest", "empty")
	} else {
		h.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		h.Set("Sec-Fetch-Mode", "navigate")
		h.Set("Sec-Fetch-Dest", "document")
	}
	if sub.origin != "" {
		h.Set("Origin", sub.origin)
	}
	if sub.contentType != "" {
		h.Set("Content-Type", sub.contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil && errors.Is(err, context.Canceled) && s.ctx.Err() != nil {
		return nil, errors.New("the test has ended")
	}
	return resp, err
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}
