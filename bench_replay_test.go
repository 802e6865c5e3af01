package continuity_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/continuity-go/continuity"
)

// bodyWriter is discardWriter keeping the body, to read the next token.
type bodyWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *bodyWriter) Header() http.Header         { return w.h }
func (w *bodyWriter) WriteHeader(code int)        { w.status = code }
func (w *bodyWriter) Write(p []byte) (int, error) { return w.body.Write(p) }

func (w *bodyWriter) reset() {
	clear(w.h)
	w.status = 0
	w.body.Reset()
}

// token returns the step token of the page in w.
func (w *bodyWriter) token() string {
	b := w.body.Bytes()
	i := bytes.Index(b, []byte(`name="k" value="`))
	if i < 0 {
		return ""
	}
	b = b[i+len(`name="k" value="`):]
	return string(b[:bytes.IndexByte(b, '"')])
}

// benchSteps is how many steps the benchmark flows take before they
// return: a session's journal stays under the default cap (1,000 entries)
// and the next session starts afresh, as browsers come and go.
const benchSteps = 500

// tokenCounter is the counter with a step token on every page.
func tokenCounter(r *continuity.Request) {
	for i := 1; i <= benchSteps; i++ {
		r.Printf(`<span id="count">%d</span><form>%s</form>`, i, r.StepField())
		r.Next()
	}
}

// plainCounter is the same page without the token.
func plainCounter(r *continuity.Request) {
	for i := 1; i <= benchSteps; i++ {
		r.Printf(`<span id="count">%d</span><form><input type="hidden" name="k" value="ABCDEFGHIJKLMNOPQRSTUVWX"></form>`, i)
		r.Next()
	}
}

// BenchmarkTokenStep compares a step of the counter with a step token and
// its journal (tokens) to the same step without (plain), in one run: the
// cookie, the hand-off, the token's check, the journaled input, the kept
// response, and reading the next token from the page. Both requests carry
// a token-sized k parameter. Every 500 steps the flow returns and a new
// session starts (included in the timing), so that journals stay at a
// realistic size.
func BenchmarkTokenStep(b *testing.B) {
	for _, tc := range []struct {
		name string
		app  func(*continuity.Request)
	}{
		{"plain", plainCounter},
		{"tokens", tokenCounter},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, err := continuity.New(tc.app, &continuity.Options{Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			w := &bodyWriter{h: make(http.Header)}
			var cookie *http.Cookie
			tok := ""
			b.ReportAllocs()
			for b.Loop() {
				if tok == "" {
					w.reset()
					r := httptest.NewRequest(http.MethodGet, "/", nil)
					srv.ServeHTTP(w, r)
					cookie = (&http.Response{Header: w.h}).Cookies()[0]
					tok = w.token()
					continue
				}
				r := httptest.NewRequest(http.MethodGet, "/?k="+tok, nil)
				r.AddCookie(cookie)
				w.reset()
				srv.ServeHTTP(w, r)
				if w.status != http.StatusOK && w.status != 0 {
					b.Fatalf("status %d: %s", w.status, w.body.String())
				}
				tok = w.token()
			}
		})
	}
}

// BenchmarkJournaledStepMemory reports the memory a session holds per
// journaled step, after 1,000 steps of a one-field form (heap and stacks,
// less what the same session holds after one step): the journal entry,
// the request's form it keeps, and the store's slice.
func BenchmarkJournaledStepMemory(b *testing.B) {
	const steps = 1000
	for b.Loop() {
		srv, err := continuity.New(wizardForm, &continuity.Options{Logger: quietLogger(), JournalMaxEntries: -1, JournalMaxBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		w := &bodyWriter{h: make(http.Header)}
		cookie := sessionCookieFor(b, srv)
		step := func(tok string) string {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("name=ann&k="+tok))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.AddCookie(cookie)
			w.reset()
			srv.ServeHTTP(w, r)
			return w.token()
		}
		tok := step("")
		tok = step(tok)
		before := memInUse()
		for range steps {
			tok = step(tok)
		}
		after := memInUse()
		b.ReportMetric(float64(after-before)/steps, "bytes/step")
		srv.Shutdown(context.Background())
	}
}

// wizardForm asks for a name, forever, with a step token.
func wizardForm(r *continuity.Request) {
	for {
		r.Printf(`<form method="post">%s<input name="name"></form>`, r.StepField())
		r.Next()
	}
}

// BenchmarkRewind is a rewind of a flow of 10 and of 100 steps: the
// browser submits the next-to-last page again with another input, so the
// session replays the whole flow to that step on a new goroutine and
// feeds it the request. (Every 50 rewinds a fresh session is walked to the
// last step, untimed: a session keeps the tokens of 64 abandoned
// timelines.)
func BenchmarkRewind(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			srv, err := continuity.New(wizardForm, &continuity.Options{Logger: quietLogger(), StalePolicy: continuity.Rewind})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			w := &bodyWriter{h: make(http.Header)}
			var cookie *http.Cookie
			step := func(tok, name string) string {
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("name="+name+"&k="+tok))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.AddCookie(cookie)
				w.reset()
				srv.ServeHTTP(w, r)
				if w.status != http.StatusOK && w.status != 0 {
					b.Fatalf("status %d: %s", w.status, w.body.String())
				}
				return w.token()
			}
			var back string // the next-to-last page's token
			walk := func() {
				cookie = sessionCookieFor(b, srv)
				tok := step("", "a")
				for range n - 1 {
					back = tok
					tok = step(tok, "a")
				}
			}
			walk()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if i++; i%50 == 0 {
					b.StopTimer()
					walk()
					b.StartTimer()
				}
				step(back, fmt.Sprint(i)) // another input each time: not a double submit
			}
		})
	}
}
