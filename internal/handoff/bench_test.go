package handoff

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discard is a minimal ResponseWriter, so that the benchmark measures the
// hand-off and not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkHandle is one request handed to an idle session and answered:
// the per-request cost of the hand-off, with the server's default bounds.
func BenchmarkHandle(b *testing.B) {
	page := []byte("<p>hello</p>")
	s := NewSession(context.Background(), Options{App: func(r *Handle) {
		for {
			r.Write(page)
			r.Next()
		}
	}})
	done := make(chan struct{})
	go func() { defer close(done); s.Run() }()
	defer func() { s.Close(EndShutdown); <-done }()
	w := &discard{h: make(http.Header)}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	t := Timeouts{Queue: 30 * time.Second, Response: 5 * time.Minute, Write: 30 * time.Second}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.Handle(w, req, t)
	}
}
