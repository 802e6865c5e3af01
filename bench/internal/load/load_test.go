package load

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counterPage is the counter example's page, as far as the client reads
// it.
func counterPage(r *continuity.Request) {
	for n := 1; ; n++ {
		r.Printf("<!doctype html>\n<p>You have loaded this page <span id=\"count\">%d</span> time(s).</p>\n", n)
		r.Next()
	}
}

// newCounter is a continuity server of counterPage behind an
// httptest.Server; wrap, if not nil, wraps its handler, and connState, if
// not nil, sees its connections' states.
func newCounter(t *testing.T, wrap func(http.Handler) http.Handler, connState func(net.Conn, http.ConnState)) *httptest.Server {
	srv, err := continuity.New(counterPage, &continuity.Options{MaxSessionsPerClient: -1})
	require.NoError(t, err)
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = connState
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ts
}

func addr(ts *httptest.Server) string { return strings.TrimPrefix(ts.URL, "http://") }

func TestRequest(t *testing.T) {
	assert.Equal(t, "GET / HTTP/1.1\r\nHost: h:1\r\nUser-Agent: ua\r\nAccept: text/html\r\n\r\n",
		string(Request("h:1", "ua", "", "", false)))
	assert.Equal(t, "GET / HTTP/1.1\r\nHost: h:1\r\nUser-Agent: ua\r\nAccept: text/html\r\nCookie: cid=abc\r\nConnection: close\r\n\r\n",
		string(Request("h:1", "ua", "abc", "", true)))
	assert.Equal(t, "GET / HTTP/1.1\r\nHost: h:1\r\nUser-Agent: ua\r\nAccept: text/html\r\nCookie: cid=abc; SRV=n2\r\n\r\n",
		string(Request("h:1", "ua", "abc", "n2", false)))
}

// The reply parser reads the counter page with Content-Length and
// chunked, on one kept-alive connection, with the cookies the server and
// a load balancer set.
func TestRoundTrip(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "cid", Value: "v1|x", Path: "/", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "SRV", Value: "n3", Path: "/"})
		fmt.Fprintf(w, `<p><span id="count">%d</span></p>`, 42)
		if r.URL.Query().Has("chunked") {
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "\n<p>more</p>\n")
		}
	}))
	defer ts.Close()
	c, err := Dial(addr(ts))
	require.NoError(t, err)
	defer c.Close()
	for _, path := range []string{"/", "/?chunked", "/"} {
		req := strings.Replace(string(Request(addr(ts), "test", "", "", false)), "GET / ", "GET "+path+" ", 1)
		rep, err := c.RoundTrip([]byte(req))
		require.NoError(t, err, path)
		assert.Equal(t, Reply{Count: 42, CID: "v1|x", SRV: "n3"}, rep, path)
	}
	rep, err := c.RoundTrip(Request(addr(ts), "test", "", "", true))
	require.NoError(t, err)
	assert.True(t, rep.Close)
}

func TestRoundTripErrors(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Cookie") {
		case "cid=teapot":
			http.Error(w, "short and stout", http.StatusTeapot)
		case "cid=nocount":
			fmt.Fprint(w, "<p>no count here</p>")
		case "cid=nodigits":
			fmt.Fprint(w, `<span id="count">x</span>`)
		}
	}))
	defer ts.Close()
	for cookie, want := range map[string]string{
		"teapot":   `status 418: "short and stout\n"`,
		"nocount":  `no count in "<p>no count here</p>"`,
		"nodigits": `no count in "<span id=\"count\">x</span>"`,
	} {
		c, err := Dial(addr(ts))
		require.NoError(t, err)
		_, err = c.RoundTrip(Request(addr(ts), "test", cookie, "", false))
		assert.EqualError(t, err, want, cookie)
		c.Close()
	}
}

// A browser steps its own session on a real continuity server: its count
// goes up by one a step, on a kept-alive connection or a new one each
// time; after perSession steps it starts a new session.
func TestStep(t *testing.T) {
	var conns atomic.Int64
	ts := newCounter(t, nil, func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	})
	for _, keepAlive := range []bool{true, false} {
		conns.Store(0)
		cl := NewClient(addr(ts), "test", keepAlive, 3)
		c, b, err := cl.NewSession(nil)
		require.NoError(t, err)
		assert.Equal(t, 1, b.Count)
		assert.NotEmpty(t, b.CID)
		first := b.CID
		var counts []int
		for range 5 {
			c, err = cl.Step(&b, c)
			require.NoError(t, err)
			counts = append(counts, b.Count)
		}
		assert.Equal(t, []int{2, 3, 1, 2, 3}, counts, "a new session after 3 steps")
		assert.NotEqual(t, first, b.CID)
		if keepAlive {
			assert.EqualValues(t, 1, conns.Load())
			require.NotNil(t, c)
			c.Close()
		} else {
			assert.EqualValues(t, 6, conns.Load())
			assert.Nil(t, c)
		}
	}
}

// HAProxy's SRV cookie goes back with the session's; a session the
// server no longer knows is an error, and the browser takes the new one.
func TestStepCookies(t *testing.T) {
	var srvSeen atomic.Value
	ts := newCounter(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ck, err := r.Cookie("SRV"); err == nil {
				srvSeen.Store(ck.Value)
			} else {
				w = &setSRV{ResponseWriter: w}
			}
			h.ServeHTTP(w, r)
		})
	}, nil)
	cl := NewClient(addr(ts), "test", true, 0)
	c, b, err := cl.NewSession(nil)
	require.NoError(t, err)
	assert.Equal(t, "n1", b.SRV)
	c, err = cl.Step(&b, c)
	require.NoError(t, err)
	assert.Equal(t, "n1", srvSeen.Load())

	b.CID = "forged"
	b.req = nil
	c, err = cl.Step(&b, c)
	assert.ErrorIs(t, err, ErrLostSession)
	assert.Equal(t, 1, b.Count)
	c, err = cl.Step(&b, c)
	require.NoError(t, err)
	assert.Equal(t, 2, b.Count)
	c.Close()
}

// setSRV adds HAProxy's cookie to the response, as HAProxy does: after
// the handler has set its headers.
type setSRV struct {
	http.ResponseWriter
	wrote bool
}

func (w *setSRV) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Add("Set-Cookie", "SRV=n1")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *setSRV) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// A run counts only the steps taken while measuring; it ends at Stop.
func TestRun(t *testing.T) {
	handled := make(chan struct{}, 1000)
	ts := newCounter(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			select {
			case handled <- struct{}{}:
			default:
			}
		})
	}, nil)
	cl := NewClient(addr(ts), "test", true, 0)
	browsers := make([]Browser, 3)
	for i := range browsers {
		c, b, err := cl.NewSession(nil)
		require.NoError(t, err)
		c.Close()
		browsers[i] = b
	}
	run := Start(cl, browsers)
	defer run.Close()
	for range 10 { // warming up
		<-handled
	}
	run.Measure()
	for len(handled) > 0 {
		<-handled
	}
	for range 30 {
		<-handled
	}
	run.Stop()
	s := run.Wait()
	assert.Zero(t, s.Errors)
	assert.NoError(t, s.FirstErr)
	assert.GreaterOrEqual(t, s.Requests, 30-2*len(browsers)) // at most one step a browser on either side of the stretch
	assert.Len(t, s.Lat, s.Requests)
	assert.True(t, slices.IsSorted(s.Lat))
	assert.Positive(t, s.Elapsed)
	steps := 0
	for _, b := range browsers {
		steps += b.Count - 1
	}
	assert.Greater(t, steps, s.Requests, "the warm-up's steps are not counted")
}

// Where every step fails, each client gives up after maxFailures
// measured failures in a row: the run ends without Stop.
func TestRunGivesUp(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	run := Start(NewClient(addr(ts), "test", true, 0), make([]Browser, 2))
	run.Measure()
	s := run.Wait()
	assert.Equal(t, 2*(maxFailures+1), s.Errors)
	assert.Zero(t, s.Requests)
	assert.EqualError(t, s.FirstErr, `status 503: "down\n"`)
	run.Close()
}

func TestStats(t *testing.T) {
	var s Stats
	assert.Zero(t, s.Pct(50))
	s.Add(Stats{Requests: 3, Errors: 1, Elapsed: time.Second, Lat: []time.Duration{3, 5, 9}})
	s.Add(Stats{Requests: 2, Errors: 2, FirstErr: ErrLostSession, Elapsed: time.Second, Lat: []time.Duration{1, 4}})
	assert.Equal(t, Stats{Requests: 5, Errors: 3, FirstErr: ErrLostSession, Elapsed: 2 * time.Second,
		Lat: []time.Duration{1, 3, 4, 5, 9}}, s)
	assert.Equal(t, 2.5, s.Rate())
	assert.Equal(t, time.Duration(4), s.Pct(50))
	assert.Equal(t, time.Duration(9), s.Pct(99))
	assert.Equal(t, time.Duration(1), s.Pct(0))
}

func TestDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		999:                      "999ns",
		12345:                    "12.3µs",
		1234567:                  "1.23ms",
		1500 * time.Millisecond:  "1.5s",
		12345 * time.Millisecond: "12.3s",
	} {
		assert.Equal(t, want, Dur(d))
	}
}
