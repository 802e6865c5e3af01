package progress

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/handoff"
	"github.com/continuity-go/continuity/request"
)

// A bubble serves meters inside a testing/synctest bubble, where time is
// exact and instant but a real socket never counts as durably blocked: so
// status requests go straight to ServeStatus with in-memory recorders, and
// a session's application runs the steps the test gives it, with no
// request in hand (none of these tests need one), so that nothing here
// touches the hand-off's pooled exchanges and timers, which must not
// cross from a bubble into other tests.
type bubble struct {
	t      *testing.T
	h      *Handler
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newBubble must be called inside synctest.Test. Its cleanup ends every
// session and waits for them.
func newBubble(t *testing.T, o Options) *bubble {
	ctx, cancel := context.WithCancel(t.Context())
	bb := &bubble{t: t, h: New(o), ctx: ctx, cancel: cancel}
	t.Cleanup(func() {
		cancel()
		bb.wg.Wait()
		_ = bb.h.Shutdown(context.Background())
	})
	return bb
}

// bsession is a session in a bubble.
type bsession struct {
	bb    *bubble
	sess  *handoff.Session
	steps chan func(*request.Request)
	end   context.CancelFunc // ends the session
}

// session starts a session attached to the bubble's Handler.
func (bb *bubble) session() *bsession {
	ctx, cancel := context.WithCancel(bb.ctx)
	s := &bsession{bb: bb, steps: make(chan func(*request.Request)), end: cancel}
	s.sess = handoff.NewSession(ctx, handoff.Options{NoImplicitFirstNext: true, App: func(h *handoff.Handle) {
		r := (*request.Request)(h)
		for {
			select {
			case f := <-s.steps:
				f(r)
			case <-r.Context().Done():
				return
			}
		}
	}})
	bb.h.attach((*request.Session)(s.sess))
	bb.wg.Go(s.sess.Run)
	return s
}

// do runs f on the session goroutine.
func (s *bsession) do(f func(r *request.Request)) {
	done := make(chan struct{})
	s.steps <- func(r *request.Request) {
		defer close(done)
		f(r)
	}
	<-done
}

// start starts the meter name.
func (s *bsession) start(name string, opts ...Option) *Meter {
	s.bb.t.Helper()
	var m *Meter
	var err error
	s.do(func(r *request.Request) { m, err = Start(r, name, opts...) })
	require.NoError(s.bb.t, err)
	return m
}

// get answers GET /_progress_status/path (NAME?QUERY) for s, with the
// header pairs hdr, to w; ctx is the request's.
func (s *bsession) serve(ctx context.Context, w http.ResponseWriter, path string, hdr ...string) {
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/_progress_status/"+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	s.bb.h.ServeStatus(w, r, (*request.Session)(s.sess), strings.TrimPrefix(r.URL.Path, "/_progress_status/"))
}

// status answers a status request at once and decodes a 200 answer.
func (s *bsession) status(path string) (status, int) {
	s.bb.t.Helper()
	w := httptest.NewRecorder()
	s.serve(context.Background(), w, path)
	return decode(s.bb.t, w.Code, w.Body.String())
}

func decode(t *testing.T, code int, body string) (status, int) {
	t.Helper()
	var st status
	if code == http.StatusOK {
		require.NoError(t, json.Unmarshal([]byte(body), &st), body)
	}
	return st, code
}

// answer is a status request's answer.
type answer struct {
	st   status
	code int
}

// poll sends a status request that may wait; its answer comes on the
// channel.
func (s *bsession) poll(path string) <-chan answer {
	ch := make(chan answer, 1)
	s.bb.wg.Go(func() {
		w := httptest.NewRecorder()
		s.serve(context.Background(), w, path)
		st, code := decode(s.bb.t, w.Code, w.Body.String())
		ch <- answer{st, code}
	})
	return ch
}

// ready reports the answer on ch, if it has come.
func ready(ch <-chan answer) (answer, bool) {
	select {
	case a := <-ch:
		return a, true
	default:
		return answer{}, false
	}
}

// streamRecorder is a ResponseWriter whose body may be read while the
// handler writes it.
type streamRecorder struct {
	hdr  http.Header
	mu   sync.Mutex
	code int
	body strings.Builder
}

func newStreamRecorder() *streamRecorder { return &streamRecorder{hdr: http.Header{}} }

func (w *streamRecorder) Header() http.Header { return w.hdr }

func (w *streamRecorder) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.code == 0 {
		w.code = code
	}
}

func (w *streamRecorder) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(b)
}

func (w *streamRecorder) Flush() {}

func (w *streamRecorder) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.String()
}

// stream opens an event stream; it ends when cancel is called, or by
// itself; done is closed then.
func (s *bsession) stream(path string, hdr ...string) (w *streamRecorder, cancel context.CancelFunc, done <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	w = newStreamRecorder()
	d := make(chan struct{})
	s.bb.wg.Go(func() {
		defer close(d)
		s.serve(ctx, w, path, append([]string{"Accept", "text/event-stream"}, hdr...)...)
	})
	return w, cancel, d
}

// events parses an event stream's body so far: the events, and the
// comments as events with raw set.
func events(t *testing.T, body string) []event {
	t.Helper()
	var out []event
	for _, block := range strings.Split(body, "\n\n") {
		var ev event
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, ":"):
				ev.raw = line
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				require.NoError(t, json.Unmarshal([]byte(line[6:]), &ev.data), line)
			}
		}
		if ev.id != "" || ev.raw != "" {
			out = append(out, ev)
		}
	}
	return out
}
