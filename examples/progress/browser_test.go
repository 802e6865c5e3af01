package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/browsertest"
)

// recordBar makes the page remember every text the bar shows.
const recordBar = `(function () {
  var bar = document.getElementById("bar");
  window.barSeen = [];
  new MutationObserver(function () { window.barSeen.push(bar.textContent); })
    .observe(bar, {childList: true, characterData: true, subtree: true});
  return true;
})()`

// TestBrowser drives headless Chromium: it opens the example (mounted
// under a prefix, as in the tour), clicks Start, and waits for the bar to
// read 100%, having moved through values in between: over Server-Sent
// Events, forced onto long-polling, and falling back to long-polling when
// event streams are refused.
func TestBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	base := serve(t, "/progress/", 50, 20*time.Millisecond)
	// A proxy that refuses event streams: the page must fall back.
	noStreams := serve(t, "/progress/", 50, 20*time.Millisecond, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
				http.Error(w, "no streams here", http.StatusBadGateway)
				return
			}
			h.ServeHTTP(w, r)
		})
	})

	ctx := browser

	for _, tc := range []struct{ name, url, transport string }{
		{"sse", base, "Server-Sent Events"},
		{"poll", base + "?transport=poll", "long-polling"},
		{"fallback", noStreams, "long-polling"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			require.NoError(t, chromedp.Do(ctx,
				chromedp.Navigate(tc.url),
				chromedp.WaitVisible(chromedp.ID("start")),
			))
			_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](recordBar))
			require.NoError(t, err)
			require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("start"))))
			_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("bar").textContent === "100%"`,
				chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(10*time.Millisecond)))
			seen, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.barSeen`))
			require.NoError(t, err, "the bar never reached 100%% (it showed %q)", seen)
			_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("state").textContent.indexOf("Finished") === 0`,
				chromedp.WithPollingTimeout(10*time.Second)))
			require.NoError(t, err)
			read := func(expr string) string {
				v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
				require.NoError(t, err, expr)
				return v
			}
			text := read(`document.getElementById("bar").textContent`)
			width := read(`document.getElementById("bar").style.width`)
			state := read(`document.getElementById("state").textContent`)
			transport := read(`document.getElementById("transport").textContent`)
			assert.Equal(t, "100%", text)
			assert.Equal(t, "100%", width)
			assert.Equal(t, tc.transport, transport)
			assert.True(t, strings.HasPrefix(state, "Finished: 50 of 50"), "state %q", state)
			between := 0
			for _, s := range seen {
				if n, err := strconv.Atoi(strings.TrimSuffix(s, "%")); err == nil && n > 0 && n < 100 {
					between++
				}
			}
			assert.Greater(t, between, 2, "the bar jumped to 100%% without moving through values in between: %q", seen)
		})
	}
}
