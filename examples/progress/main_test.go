package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
	"github.com/continuity-go/continuity/examples/internal/webtest"
	"github.com/continuity-go/continuity/progress"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTaskFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		steps int
		step  time.Duration
		err   bool
	}{
		{args: nil, steps: 50, step: 100 * time.Millisecond},
		{args: []string{"-steps", "7", "--step=20ms"}, steps: 7, step: 20 * time.Millisecond},
		{args: []string{"-steps=3", "-step", "0s"}, steps: 3, step: 0},
		{args: []string{"-steps", "0"}, err: true},
		{args: []string{"-steps", "x"}, err: true},
		{args: []string{"-step", "-1s"}, err: true},
		{args: []string{"-step"}, err: true},
	} {
		steps, step := defaultSteps, defaultStep
		fs := flag.NewFlagSet("progress", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		taskFlags(&steps, &step)(fs)
		err := fs.Parse(tc.args)
		if tc.err {
			assert.Error(t, err, "%q", tc.args)
			continue
		}
		require.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.steps, steps, "%q", tc.args)
		assert.Equal(t, tc.step, step, "%q", tc.args)
	}
}

type meter struct {
	Name       string   `json:"name"`
	Total      int      `json:"total"`
	Count      int      `json:"count"`
	Messages   []string `json:"messages"`
	InProgress bool     `json:"in_progress"`
	Status     string   `json:"status"`
	Version    uint64   `json:"version"`
}

// client is a browser for the API calls the page's script makes.
func client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Jar: jar, Transport: tr}
}

// startTask sends start with method and waits for its first line; the
// rest of the answer (the last line, when the task is done) comes on the
// returned channel.
func startTask(t *testing.T, c *http.Client, method, base string) <-chan string {
	t.Helper()
	return startTaskWith(t, c, method, base+"start")
}

// startTaskAt is startTask with GET of the URL u.
func startTaskAt(t *testing.T, c *http.Client, u string) <-chan string {
	t.Helper()
	return startTaskWith(t, c, http.MethodGet, u)
}

func startTaskWith(t *testing.T, c *http.Client, method, u string) <-chan string {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	if method == http.MethodPost {
		req.Header.Set("Sec-Fetch-Site", "same-origin") // as fetch sends it
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, `{"started":true}`+"\n", line)
	rest := make(chan string, 1)
	go func() {
		defer resp.Body.Close()
		b, _ := io.ReadAll(rd)
		rest <- string(b)
	}()
	return rest
}

// events reads an event stream to its end.
func events(t *testing.T, c *http.Client, u string) []meter {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	var out []meter
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var m meter
			require.NoError(t, json.Unmarshal([]byte(data), &m))
			out = append(out, m)
		}
	}
	return out
}

// serve runs the example app under prefix ("/" or "/progress/"), with the
// session cookie scoped to it as the tour does, behind the middleware
// wrap, if any.
func serve(t *testing.T, prefix string, steps int, step time.Duration, wrap ...func(http.Handler) http.Handler) string {
	t.Helper()
	srv, err := continuity.New(work(steps, step), &continuity.Options{CookiePath: prefix})
	require.NoError(t, err)
	var h http.Handler = srv
	if prefix != "/" {
		mux := http.NewServeMux()
		mux.Handle(prefix, adapter.Mount(prefix, srv))
		h = mux
	}
	for _, w := range wrap {
		h = w(h)
	}
	ts := webtest.Serve(t, h, srv)
	return ts.URL + prefix
}

func TestProgressExample(t *testing.T) {
	for _, prefix := range []string{"/", "/progress/"} {
		t.Run(strings.Trim(prefix, "/"), func(t *testing.T) {
			base := serve(t, prefix, 20, 5*time.Millisecond)
			c := client(t)
			resp, err := c.Get(base)
			require.NoError(t, err)
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			webtest.CheckPage(t, string(page))
			assert.Contains(t, string(page), `id="bar"`)
			assert.Contains(t, string(page), `"_progress_status/work"`)

			// No meter before the start.
			resp, err = c.Get(base + "_progress_status/work")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)

			// GET start; SSE sees every step in order, then the end.
			done := startTask(t, c, http.MethodGet, base)
			evs := events(t, c, base+"_progress_status/work")
			require.NotEmpty(t, evs)
			var counts []int
			for _, e := range evs {
				counts = append(counts, e.Count)
			}
			assert.IsNonDecreasing(t, counts)
			final := evs[len(evs)-1]
			assert.False(t, final.InProgress)
			assert.Equal(t, 20, final.Count)
			assert.Equal(t, 20, final.Total)
			assert.Equal(t, "done", final.Status)
			assert.Equal(t, []string{"10 of 20 steps done", "20 of 20 steps done"}, final.Messages)
			assert.Equal(t, `{"done":true}`+"\n", <-done)

			// POST start again; long-polls follow it to the end.
			done = startTask(t, c, http.MethodPost, base)
			since, polls := -1, 0
			var m meter
			for {
				resp, err := c.Get(base + "_progress_status/work?wait=5&since=" + strconv.Itoa(since))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
				resp.Body.Close()
				polls++
				require.GreaterOrEqual(t, m.Count, since)
				since = m.Count
				if !m.InProgress {
					break
				}
			}
			assert.Equal(t, 20, m.Count)
			assert.Greater(t, polls, 2, "the long-polls did not follow the steps")
			assert.Greater(t, m.Version, final.Version)
			<-done

			// Another browser sees nothing.
			other := client(t)
			resp, err = other.Get(base + "_progress_status/work")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		})
	}
}

// The page's relative URLs resolve under the mount point.
func TestRelativeURLs(t *testing.T) {
	base, err := url.Parse("http://h/progress/")
	require.NoError(t, err)
	for ref, want := range map[string]string{
		"start":                 "/progress/start",
		"_progress_status/work": "/progress/_progress_status/work",
	} {
		u, err := url.Parse(ref)
		require.NoError(t, err)
		assert.Equal(t, want, base.ResolveReference(u).Path)
	}
}

// A start the meter refuses says why: an invalid progress_id gets 400,
// not an empty 200, and the session carries on.
func TestStartWithABadProgressID(t *testing.T) {
	base := serve(t, "/", 2, time.Millisecond)
	c := client(t)
	for _, id := range []string{"..", "a/b", "a%00b", "a%5Cb", strings.Repeat("x", 129)} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, err := http.NewRequest(method, base+"start?progress_id="+id, nil)
			require.NoError(t, err)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			resp, err := c.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %q: %s", method, id, body)
			assert.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
			assert.Equal(t, `{"error":"invalid progress_id: it must be 1 to 128 bytes, without slashes, backslashes, double dots or control characters"}`+"\n", string(body))
		}
	}
	// A good ID starts the meter under that ID.
	done := startTaskAt(t, c, base+"start?progress_id=one")
	assert.Equal(t, `{"done":true}`+"\n", <-done)
	resp, err := c.Get(base + "_progress_status/work?progress_id=one")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// A start beyond the server's bound on meters gets 503 with Retry-After
// and says why.
func TestStartWhenTheServerHoldsTooManyMeters(t *testing.T) {
	srv, err := continuity.New(work(1000, time.Hour), &continuity.Options{
		Progress: progress.Options{MaxMeters: 1},
	})
	require.NoError(t, err)
	base := webtest.Serve(t, srv, srv).URL + "/"
	startTask(t, client(t), http.MethodGet, base) // runs until the server stops

	resp, err := client(t).Get(base + "start")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.Equal(t, `{"error":"server busy: too many progress meters; try again later"}`+"\n", string(body))
}
