package progress

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/internal/handoff"
	"github.com/continuity-go/continuity/request"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness serves an application over real HTTP the way a continuity server
// does, with a minimal cookie mapper of its own (package progress must not
// import the mapper): /_progress_status/NAME goes to the Handler with the
// request's session or nil, never creating one; everything else goes to
// the session, created on first sight.
type harness struct {
	t        *testing.T
	h        *Handler
	ts       *httptest.Server
	app      func(*request.Request)
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	sessions map[string]*handoff.Session
}

func newHarness(t *testing.T, app func(*request.Request), o Options) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hs := &harness{t: t, h: New(o), app: app, ctx: ctx, cancel: cancel, sessions: map[string]*handoff.Session{}}
	hs.ts = httptest.NewServer(http.HandlerFunc(hs.serve))
	t.Cleanup(hs.close)
	return hs
}

// close ends every session first, so that no handler waits on one, then
// the server, which waits for every handler.
func (hs *harness) close() {
	hs.cancel()
	hs.wg.Wait()
	hs.ts.Close()
	_ = hs.h.Shutdown(context.Background())
}

func (hs *harness) serve(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Cookie("t")
	var sess *handoff.Session
	if c != nil {
		hs.mu.Lock()
		sess = hs.sessions[c.Value]
		hs.mu.Unlock()
		if sess != nil && sess.Closed() {
			sess = nil
		}
	}
	if name, ok := strings.CutPrefix(r.URL.Path, "/_progress_status/"); ok {
		hs.h.ServeStatus(w, r, (*request.Session)(sess), name)
		return
	}
	if sess == nil {
		tok := rand.Text()
		sess = handoff.NewSession(hs.ctx, handoff.Options{App: func(h *handoff.Handle) { hs.app((*request.Request)(h)) }})
		hs.mu.Lock()
		hs.sessions[tok] = sess
		hs.mu.Unlock()
		hs.wg.Go(sess.Run)
		http.SetCookie(w, &http.Cookie{Name: "t", Value: tok, Path: "/"})
	}
	hs.h.attach((*request.Session)(sess))
	sess.Serve(w, r, handoff.Timeouts{})
}

// browser is a client with its own cookie jar: its own session.
type browser struct {
	t  *testing.T
	hs *harness
	c  *http.Client
}

func (hs *harness) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(hs.t, err)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 1100
	hs.t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: hs.t, hs: hs, c: &http.Client{Jar: jar, Transport: tr, Timeout: 20 * time.Second}}
}

// do sends a request and returns the status, the body, and the response
// (whose body is closed).
func (b *browser) do(method, path string, hdr ...string) (int, string, *http.Response) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.hs.ts.URL+path, nil)
	require.NoError(b.t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(body), resp
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	code, body, _ := b.do(http.MethodGet, path)
	return code, body
}

// status fetches /_progress_status/+rest and decodes a 200 answer.
func (b *browser) status(rest string) (status, int) {
	b.t.Helper()
	code, body := b.get("/_progress_status/" + rest)
	var s status
	if code == http.StatusOK {
		require.NoError(b.t, json.Unmarshal([]byte(body), &s), body)
	}
	return s, code
}

// status is the endpoint's JSON, decoded.
type status struct {
	Name       string   `json:"name"`
	ProgressID string   `json:"progress_id"`
	Total      int      `json:"total"`
	Count      int      `json:"count"`
	Messages   []string `json:"messages"`
	InProgress bool     `json:"in_progress"`
	Status     string   `json:"status"`
	Version    uint64   `json:"version"`
}

// event is one Server-Sent Event.
type event struct {
	id   string
	data status
	raw  string
}

// stream opens an event stream and delivers its events (and comments, as
// events with raw set) on the returned channel, which is closed when the
// stream ends.
func (b *browser) stream(ctx context.Context, rest string, hdr ...string) (*http.Response, <-chan event) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.hs.ts.URL+"/_progress_status/"+rest, nil)
	require.NoError(b.t, err)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := *b.c
	c.Timeout = 0
	resp, err := c.Do(req)
	require.NoError(b.t, err)
	ch := make(chan event, 1024)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.id != "" || ev.raw != "" {
					ch <- ev
				}
				ev = event{}
			case strings.HasPrefix(line, ":"):
				ev.raw = line
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &ev.data); err != nil {
					b.t.Errorf("bad event data %q: %v", line, err)
				}
			}
		}
	}()
	return resp, ch
}

// ctl is an application the test drives step by step: "/start" starts a
// meter and answers at once (streamed), then the session runs the steps
// the test sends on its channel until one returns false.
type ctl struct {
	steps chan func(r *request.Request) bool
}

func newCtl() *ctl { return &ctl{steps: make(chan func(*request.Request) bool)} }

func (c *ctl) app(r *request.Request) {
	for {
		if r.Path() == "/work" {
			r.WriteString("working\n")
			r.Flush()
			for {
				var f func(*request.Request) bool
				select {
				case f = <-c.steps:
				case <-r.Context().Done():
					return
				}
				if !f(r) {
					break
				}
			}
		}
		r.Next()
	}
}

// do runs f in the session goroutine, which must be inside /work.
func (c *ctl) do(t *testing.T, f func(r *request.Request)) {
	t.Helper()
	done := make(chan struct{})
	select {
	case c.steps <- func(r *request.Request) bool { f(r); close(done); return true }:
	case <-time.After(10 * time.Second):
		t.Fatal("session not in /work")
	}
	<-done
}

// end leaves /work.
func (c *ctl) end(t *testing.T) {
	t.Helper()
	select {
	case c.steps <- func(*request.Request) bool { return false }:
	case <-time.After(10 * time.Second):
		t.Fatal("session not in /work")
	}
}

// begin sends /work?query in the background and waits for its head, so
// that the session is inside /work when begin returns. The request ends
// when the test calls end.
func (c *ctl) begin(t *testing.T, b *browser, query string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.hs.ts.URL+"/work?"+query, nil)
	require.NoError(t, err)
	cl := *b.c
	cl.Timeout = 0
	resp, err := cl.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	t.Cleanup(func() { resp.Body.Close() })
	go io.Copy(io.Discard, resp.Body)
}
