package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/browsertest"
)

// TestBrowser drives headless Chromium: it clicks "--" at 0, answers the
// question "No" and then "Yes", and clicks "++" up to 42, where the page
// shows the Answer.
func TestBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	_, base := serve(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()

	// Each step clicks a link by its text, then waits for what only the
	// next page has, so that no click lands on the page it leaves.
	link := func(text string) chromedp.Search { return chromedp.Search(`//a[text()="` + text + `"]`) }
	count := func(n int) chromedp.Search {
		return chromedp.Search(`//span[@id="count"][text()="` + strconv.Itoa(n) + `"]`)
	}
	question := chromedp.Search(`//p[@id="question"][text()="Do you really want to GO NEGATIVE?"]`)
	step := func(click string, then chromedp.Search) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(link(click)), chromedp.WaitVisible(then)), "click %q", click)
	}

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base), chromedp.WaitVisible(count(0))))
	step("--", question)
	step("No", count(0))
	step("--", question)
	step("Yes", count(-1))
	for n := 0; n <= 42; n++ {
		step("++", count(n))
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("answer")))
	require.NoError(t, err)
	assert.Equal(t, "The Answer to Life, The Universe, and Everything", text)
}
