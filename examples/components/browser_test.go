package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/browsertest"
)

// counters is the script that reads the three numbers the page shows.
const counters = `["count-1", "count-2", "count-3"].map(id => document.getElementById(id)?.textContent).join(" ")`

// TestBrowser drives headless Chromium: it clicks each counter's links by
// their text and waits for the page to show the numbers expected.
func TestBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	ts := serve(t)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("count-3"))))

	// click follows the link labelled text (in counter id's component,
	// or anywhere with id ""), then waits for the next page to show want.
	click := func(id, text, want string) {
		t.Helper()
		// A plain string selector is a DOM search, which takes XPath.
		sel := `//a[text()="` + text + `"]`
		if id != "" {
			sel = `//div[@id="counter-` + id + `"]` + sel
		}
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(sel)))
		// Every step changes a number, so the old page never shows want.
		// Reads fail while the page is replaced; keep reading.
		var got string
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got, err = chromedp.Run(ctx, chromedp.Evaluate[string](counters)); err == nil && got == want {
				return
			}
		}
		t.Fatalf("after %s in counter %q the page shows %q, not %q (%v)", text, id, got, want, err)
	}

	click("1", "++", "1 0 0")
	click("3", "--", "1 0 -1")
	click("3", "--", "1 0 -2")
	click("2", "++", "1 1 -2")
	click("1", "--", "0 1 -2")
	click("", "Reset all", "0 0 0")
}
