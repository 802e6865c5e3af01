package continuity_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/browsertest"
)

// exposingCounter counts, and exposes its count to the admin page; at
// /hold it waits until release is closed, so that its session is busy,
// and /slow takes a while.
func exposingCounter(release <-chan struct{}) func(*continuity.Request) {
	return func(r *continuity.Request) {
		for n := 1; ; n++ {
			switch r.Path() {
			case "/hold":
				<-release
			case "/slow":
				time.Sleep(300 * time.Millisecond)
			}
			r.Session().Expose("count", n)
			r.Session().Expose("player", map[string]any{"level": n % 3, "name": "<b>ada</b>"})
			r.Printf("%d", n)
			r.Next()
		}
	}
}

// page fetches the admin page through h and parses it.
func adminPageNode(t *testing.T, h http.Handler) *html.Node {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
	doc, err := html.Parse(rec.Body)
	require.NoError(t, err)
	return doc
}

// find returns the elements under n for which match is true.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return strings.Contains(" "+attrOf(n, "class")+" ", " "+class+" ")
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// The sampler reads the counters once a second from the first AdminPage
// on, and the page draws them: a line of two points or more in each
// chart, steps per second above zero while steps are taken, and a row per
// live session with what it exposes. Shutdown stops the sampler (the
// bubble would not end with its goroutine blocked).
func TestAdminPageSamplesAndDraws(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := continuity.New(exposingCounter(nil), &continuity.Options{Logger: quietLogger()})
		require.NoError(t, err)
		admin := srv.AdminPage()

		step := func(cookie *http.Cookie) *http.Cookie {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/play", nil)
			if cookie != nil {
				req.AddCookie(cookie)
			}
			srv.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code)
			if cs := rec.Result().Cookies(); len(cs) > 0 {
				return cs[0]
			}
			return cookie
		}
		// The sampler reads at whole seconds, the steps come at half
		// seconds: two in the first second, then one a second for each.
		a, b := step(nil), step(nil)
		time.Sleep(time.Second / 2)
		for i := range 5 {
			step(a)
			step(b)
			if i == 2 {
				// A refusal: a new browser while the server drains.
				done, cancel := context.WithCancel(context.Background())
				cancel()
				_ = srv.Drain(done)
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
				require.Equal(t, http.StatusServiceUnavailable, rec.Code)
				srv.Resume()
			}
			time.Sleep(time.Second)
		}

		doc := adminPageNode(t, admin)
		rows := find(doc, func(n *html.Node) bool { return n.Data == "tr" && hasClass(n, "session") })
		require.Len(t, rows, 2)
		assert.Contains(t, text(rows[0]), "/play")
		assert.Contains(t, text(rows[0]), `count = 6`)
		assert.Contains(t, text(rows[0]), `player = {"level":0,"name":"<b>ada</b>"}`, "exposed JSON, as text")
		assert.Contains(t, text(rows[0]), "waiting")
		assert.Empty(t, find(doc, func(n *html.Node) bool { return n.Data == "b" && text(n) == "ada" }), "no markup from a session")

		for _, id := range []string{"chart-live", "chart-steps", "chart-refusals"} {
			cards := find(doc, func(n *html.Node) bool { return attrOf(n, "id") == id })
			require.Len(t, cards, 1, id)
			lines := find(cards[0], func(n *html.Node) bool { return n.Data == "path" && hasClass(n, "line") })
			require.Len(t, lines, 1, id)
			d := attrOf(lines[0], "d")
			assert.True(t, strings.HasPrefix(d, "M"), "%s: %q", id, d)
			assert.GreaterOrEqual(t, strings.Count(d, "L"), 5, "%s: a point a second: %q", id, d)
		}
		chartText := func(id, class string) string {
			card := find(doc, func(n *html.Node) bool { return attrOf(n, "id") == id })[0]
			return strings.TrimSpace(text(find(card, func(n *html.Node) bool { return hasClass(n, class) })[0]))
		}
		assert.Equal(t, "2", chartText("chart-live", "now"))
		assert.Equal(t, "max 4/s · last 10s", chartText("chart-steps", "max"), "ten seconds at least, until five minutes have been sampled")
		assert.Equal(t, "2/s", chartText("chart-steps", "now"), "the last half second: two steps")
		assert.Equal(t, "0/s", chartText("chart-refusals", "now"))
		assert.Equal(t, "max 1/s · last 10s", chartText("chart-refusals", "max"))

		// Past five minutes the ring turns over: the charts show the last
		// five, a point a second.
		time.Sleep(6 * time.Minute)
		doc = adminPageNode(t, admin)
		assert.Equal(t, "max 0/s · last 5 min", chartText("chart-steps", "max"))
		live := find(find(doc, func(n *html.Node) bool { return attrOf(n, "id") == "chart-live" })[0],
			func(n *html.Node) bool { return n.Data == "path" && hasClass(n, "line") })[0]
		assert.Equal(t, 300, strings.Count(attrOf(live, "d"), "L"), "300 samples and now")

		require.NoError(t, srv.Shutdown(context.Background()))
		// After Shutdown the page still renders, from what was sampled.
		adminPageNode(t, srv.AdminPage())
	})
}

// The admin page in a real browser: the table lists the sessions, one of
// them busy with a request queued behind it, and the charts have data
// (steps, and a refusal). The screenshot goes to the test's temporary
// directory. With CONTINUITY_UPDATE_DOCS=1 the test first plays half a
// minute of varied traffic, so that the charts have a history, and copies
// the screenshot to docs/admin.png, the README's picture.
func TestAdminPageInChromium(t *testing.T) {
	browserCtx := browsertest.Start(t)
	docs := os.Getenv("CONTINUITY_UPDATE_DOCS") == "1"
	release := make(chan struct{})
	srv, ts := start(t, exposingCounter(release), &continuity.Options{Logger: quietLogger(), QueueDepth: 1})
	defer close(release) // before the cleanups, which wait for the held requests
	admin := httptest.NewServer(srv.AdminPage())
	t.Cleanup(admin.Close)

	clients := []*http.Client{browser(t), browser(t), browser(t), browser(t)}
	for i, c := range clients {
		for j := 0; j <= i; j++ {
			code, _ := get(t, c, ts.URL+"/level/"+string(rune('a'+i)))
			require.Equal(t, http.StatusOK, code)
		}
	}
	if docs {
		clients = append(clients, playTraffic(t, ts.URL, clients, 30*time.Second)...)
	}

	// One session busy: its request waits at /hold until the test ends,
	// with one more queued behind it; a third finds the queue full.
	var held sync.WaitGroup
	t.Cleanup(held.Wait)
	for _, p := range []string{"/hold", "/queued"} {
		held.Go(func() {
			if resp, err := clients[0].Get(ts.URL + p); err == nil {
				resp.Body.Close()
			}
		})
		n := map[string]int{"/hold": 1, "/queued": 2}[p]
		require.Eventually(t, func() bool { return srv.Metrics().WaitingRequests == n }, testTimeout, tick)
	}
	code, _ := get(t, clients[0], ts.URL+"/refused")
	require.Equal(t, http.StatusServiceUnavailable, code)

	ctx, cancel := context.WithTimeout(browserCtx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1100, 600),
		chromedp.Navigate(admin.URL),
		chromedp.WaitVisible(chromedp.CSS(`#sessions tbody tr.session`)),
	))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#sessions tbody tr.session').length`))
	require.NoError(t, err)
	lines, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.card path.line')).map(p => p.getAttribute('d'))`))
	require.NoError(t, err)
	busy, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.state.busy`)))
	require.NoError(t, err)
	refusals, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("refusals")))
	require.NoError(t, err)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "admin.png"), png, 0o644))
	t.Logf("screenshot: %s", filepath.Join(dir, "admin.png"))
	if docs {
		require.NoError(t, os.WriteFile(filepath.Join("docs", "admin.png"), png, 0o644))
	}

	assert.Equal(t, len(clients), rows, "a row per live session")
	assert.Equal(t, "busy +1 queued", strings.TrimSpace(busy))
	require.Len(t, lines, 3, "three charts")
	for _, d := range lines {
		assert.True(t, strings.HasPrefix(d, "M") && strings.Contains(d, "L"), "a drawn line: %q", d)
	}
	if !docs {
		assert.Equal(t, "1", strings.TrimSpace(refusals), "the refusal is counted")
	}
	assert.Greater(t, len(png), 10_000, "a screenshot with something in it")
}

// playTraffic plays d of traffic on the server at url for the docs'
// screenshot: the clients step at a rate that rises and falls, new
// browsers arrive now and then, and a burst of requests at a busy session
// is refused. It returns the new browsers.
func playTraffic(t *testing.T, url string, clients []*http.Client, d time.Duration) []*http.Client {
	t.Helper()
	var added []*http.Client
	var wg sync.WaitGroup
	defer wg.Wait()
	begin := time.Now()
	for i := 0; time.Since(begin) < d; i++ {
		sec := time.Since(begin).Seconds()
		if i%40 == 39 && len(added) < 4 {
			c := browser(t)
			get(t, c, url+"/arrived")
			added = append(added, c)
		}
		all := append(slices.Clone(clients), added...)
		steps := int(6 + 5*math.Sin(sec/4))
		for j := range steps {
			get(t, all[(i+j)%len(all)], url+"/level/"+string(rune('a'+j%4)))
		}
		if sec > 14 && sec < 19 && i%5 == 0 {
			// One request busies the session, one more may queue, the
			// rest are refused.
			c := all[len(all)-1]
			fetch := func(path string) {
				if resp, err := c.Get(url + path); err == nil {
					resp.Body.Close()
				}
			}
			wg.Go(func() { fetch("/slow") })
			time.Sleep(20 * time.Millisecond)
			for range 4 {
				wg.Go(func() { fetch("/too-soon") })
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return added
}
