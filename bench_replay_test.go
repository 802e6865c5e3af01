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

// tokenCounter is the counter with a step token on every page.
func tokenCounter(r *continuity.Request) {
	for i := 1; ; i++ {
		r.Printf(`<span id="count">%d</span><form>%s</form>`, i, r.StepField())
		r.Next()
	}
}

// plainCounter is the same page without the token.
func plainCounter(r *continuity.Request) {
	for i := 1; ; i++ {
		r.Printf(`<span id="count">%d</span><form><input type="hidden" name="x" value="ABCDEFGHIJKLMNOPQRSTUVWX"></form>`, i)
		r.Next()
	}
}

// BenchmarkTokenStep compares a step of the counter with a step token
// and its journal (tokens) to the same step without (plain), in one run:
// cookie, hand-off, the token's check, the journaled input, the kept
// response, and reading the next token from the page. Both requests carry
// a query parameter of the same length. The journal has no caps, so that
// every step is journaled.
func BenchmarkTokenStep(b *testing.B) {
	for _, tc := range []struct {
		name  string
		app   func(*continuity.Request)
		param string
	}{
		{"plain", plainCounter, "x"},
		{"tokens", tokenCounter, "k"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, err := continuity.New(tc.app, &continuity.Options{Logger: quietLogger(), JournalMaxEntries: -1, JournalMaxBytes: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			w := &bodyWriter{h: make(http.Header)}
			cookie := sessionCookieFor(b, srv)
			w.reset()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(cookie)
			srv.ServeHTTP(w, req)
			tok := w.token()
			if tc.param == "x" {
				tok = "ABCDEFGHIJKLMNOPQRSTUVWX"
			}
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/?"+tc.param+"="+tok, nil)
				r.AddCookie(cookie)
				w.reset()
				srv.ServeHTTP(w, r)
				if w.status != http.StatusOK && w.status != 0 {
					b.Fatalf("status %d: %s", w.status, w.body.String())
				}
				if tc.param == "k" {
					tok = w.token()
				}
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
