package continuity_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/barecounter"
)

// discardWriter is a minimal ResponseWriter, the same for both sides of a
// comparison, so that the benchmarks measure the servers and not a recorder.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func (w *discardWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

func counterPage(r *continuity.Request) {
	for i := 1; ; i++ {
		r.Printf(`<span id="count">%d</span>`, i)
		r.Next()
	}
}

// sessionCookieFor runs one request through h and returns the session
// cookie it set.
func sessionCookieFor(b *testing.B, h http.Handler) *http.Cookie {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "cid" {
			return c
		}
	}
	b.Fatal("no session cookie")
	return nil
}

// BenchmarkCounterStep is one step of the counter flow through the whole
// stack: cookie decode and verify, session lookup, hand-off to the session
// goroutine, the response, and the hand-back.
func BenchmarkCounterStep(b *testing.B) {
	srv, err := continuity.New(counterPage, &continuity.Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	benchStep(b, srv)
}

// BenchmarkBareCounterStep is a plain net/http handler doing the same
// cookie work (securecookie decode and verify of the same kind of value, a
// locked map lookup, the same page) with the counter kept in a map instead
// of a goroutine's local variable.
func BenchmarkBareCounterStep(b *testing.B) {
	benchStep(b, newBareCounter())
}

func benchStep(b *testing.B, h http.Handler) {
	cookie := sessionCookieFor(b, h)
	w := &discardWriter{h: make(http.Header)}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		r := req.Clone(req.Context()) // a fresh request, as net/http would make
		h.ServeHTTP(w, r)
		if w.n == 0 {
			b.Fatal("empty response")
		}
	}
}

// BenchmarkCounterStepParallel runs steps for 1,000 sessions from all CPUs.
func BenchmarkCounterStepParallel(b *testing.B) {
	srv, err := continuity.New(counterPage, &continuity.Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	benchParallel(b, srv)
}

// BenchmarkBareCounterStepParallel is the bare handler's parallel twin.
func BenchmarkBareCounterStepParallel(b *testing.B) { benchParallel(b, newBareCounter()) }

func benchParallel(b *testing.B, h http.Handler) {
	const sessions = 1000
	cookies := make([]*http.Cookie, sessions)
	for i := range cookies {
		cookies[i] = sessionCookieFor(b, h)
	}
	var mu sync.Mutex
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		i := next
		next++
		mu.Unlock()
		w := &discardWriter{h: make(http.Header)}
		for pb.Next() {
			// Each goroutine walks its own stride of sessions, so no two
			// goroutines queue on one session.
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(cookies[i%sessions])
			i += runtime.GOMAXPROCS(0)
			w.reset()
			h.ServeHTTP(w, req)
		}
	})
}

// newBareCounter is the baseline: the same cookie work and page in a
// plain net/http handler.
func newBareCounter() *barecounter.Handler {
	return barecounter.New(func(w io.Writer, n int) { fmt.Fprintf(w, `<span id="count">%d</span>`, n) })
}

// BenchmarkSuspendedSessionMemory reports the memory held per suspended
// counter session (heap plus goroutine stacks) with 10,000 sessions parked
// in Next.
func BenchmarkSuspendedSessionMemory(b *testing.B) {
	const n = 10000
	for b.Loop() {
		// One test client makes them all: lift the per-client bound. The
		// logger has Debug off, as the default one does (a Debug line at
		// each session's start would cost its goroutine a larger stack).
		srv, err := continuity.New(counterPage, &continuity.Options{MaxSessions: n, MaxSessionsPerClient: -1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		before := memInUse()
		w := &discardWriter{h: make(http.Header)}
		for range n {
			w.reset()
			srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		}
		if live := srv.Metrics().LiveSessions; live != n {
			b.Fatalf("%d live sessions, want %d", live, n)
		}
		after := memInUse()
		b.ReportMetric(float64(after-before)/n, "bytes/session")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		srv.Shutdown(ctx)
		cancel()
	}
}

func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// BenchmarkCounterStepHTTP is one counter step over loopback HTTP with a
// keep-alive client: what a browser's request costs end to end.
func BenchmarkCounterStepHTTP(b *testing.B) {
	srv, err := continuity.New(counterPage, &continuity.Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	benchHTTP(b, srv)
}

// BenchmarkBareCounterStepHTTP is the bare handler over loopback HTTP.
func BenchmarkBareCounterStepHTTP(b *testing.B) { benchHTTP(b, newBareCounter()) }

func benchHTTP(b *testing.B, h http.Handler) {
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := ts.Client()
	cookie := sessionCookieFor(b, h)
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	req.AddCookie(cookie)
	buf := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}
