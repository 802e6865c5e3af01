package continuity_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/journal"
)

// wizardApp is the three-step form of issue 10: name, email, confirm, then
// a done page; every page carries its step token. A stale page says why.
// It counts the steps it really took (not replayed ones) in advanced.
type wizardApp struct {
	policy    continuity.StalePolicy
	policySet bool
	advanced  atomic.Int32 // inputs taken live
}

func (w *wizardApp) run(r *continuity.Request) {
	if w.policySet {
		r.SetStalePolicy(w.policy)
	}
	step := func(id, body string) {
		if r.Stale() {
			r.Printf(`<p id="stale">%s</p>`, r.StaleReason())
		}
		r.Printf(`<p id="step">%s</p><form method="post" action="/wizard">%s%s</form>`, id, r.StepField(), body)
		r.Next()
		if !r.IsReplaying() {
			w.advanced.Add(1)
		}
	}
	for {
		step("name", `<input name="name">`)
		name := r.Param("name")
		step("email", `<p id="values">`+html.EscapeString(name)+`</p><input name="email">`)
		email := r.Param("email")
		step("confirm", `<p id="values">`+html.EscapeString(name+" "+email)+`</p><button name="confirm">Confirm</button>`)
		step("done", `<p id="values">`+html.EscapeString(name+" "+email)+`</p><button name="again">Again</button>`)
	}
}

var (
	tokenRE  = regexp.MustCompile(`name="k" value="([^"]+)"`)
	stepRE   = regexp.MustCompile(`<p id="step">([^<]*)</p>`)
	valuesRE = regexp.MustCompile(`<p id="values">([^<]*)</p>`)
	staleRE  = regexp.MustCompile(`<p id="stale">([^<]*)</p>`)
	linkRE   = regexp.MustCompile(`<a href="([^"]+)">`)
)

// page is a response, with what the wizard's pages show.
type page struct {
	status int
	body   string
}

func (p page) token() string  { return match(tokenRE, p.body) }
func (p page) step() string   { return match(stepRE, p.body) }
func (p page) values() string { return html.UnescapeString(match(valuesRE, p.body)) }
func (p page) stale() string  { return match(staleRE, p.body) }
func (p page) link() string   { return html.UnescapeString(match(linkRE, p.body)) }
func (p page) String() string { return p.body }
func match(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

func readPage(t testing.TB, resp *http.Response, err error) page {
	t.Helper()
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return page{status: resp.StatusCode, body: string(b)}
}

// submit posts the form fields kv (name, value, ...) with the page's
// token to the wizard.
func submitStep(t testing.TB, c *http.Client, base string, from page, kv ...string) page {
	t.Helper()
	form := url.Values{}
	if tok := from.token(); tok != "" {
		form.Set("k", tok)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return post(t, c, base+"/wizard", form)
}

func post(t testing.TB, c *http.Client, u string, form url.Values) page {
	t.Helper()
	resp, err := c.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	return readPage(t, resp, err)
}

func getPage(t testing.TB, c *http.Client, u string) page {
	t.Helper()
	resp, err := c.Get(u)
	return readPage(t, resp, err)
}

// toConfirm walks a fresh browser through the wizard to its confirm page,
// returning the pages it saw.
func toConfirm(t testing.TB, c *http.Client, base, name, email string) (p0, p1, p2 page) {
	t.Helper()
	p0 = getPage(t, c, base+"/wizard")
	require.Equal(t, "name", p0.step(), p0)
	p1 = submitStep(t, c, base, p0, "name", name)
	require.Equal(t, "email", p1.step(), p1)
	p2 = submitStep(t, c, base, p1, "email", email)
	require.Equal(t, "confirm", p2.step(), p2)
	require.Equal(t, name+" "+email, p2.values())
	return p0, p1, p2
}

// seqStore is a journal store that remembers the highest sequence number
// appended to any session: a journal never holds more entries.
type seqStore struct {
	*journal.Memory
	mu     sync.Mutex
	maxSeq uint64
}

func (s *seqStore) Append(ctx context.Context, session string, seq uint64, e journal.Entry) error {
	err := s.Memory.Append(ctx, session, seq, e)
	if err == nil {
		s.mu.Lock()
		s.maxSeq = max(s.maxSeq, seq)
		s.mu.Unlock()
	}
	return err
}

func (s *seqStore) max() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxSeq
}

// at resolves a link found on the page at pageURL, as a browser does (the
// session's own pages link relative to the request they answer).
func at(pageURL, link string) string {
	base, err := url.Parse(pageURL)
	if err != nil {
		panic(err)
	}
	ref, err := url.Parse(link)
	if err != nil {
		panic(err)
	}
	return base.ResolveReference(ref).String()
}
