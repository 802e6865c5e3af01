package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/browsertest"
)

// TestBrowser drives headless Chromium: the page evaluates lines typed on
// the server's stdin and the server prints what they came to.
func TestBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	ts, stdin, stdout := serve(t, 5*time.Second)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("log"))))

	_, err := io.WriteString(stdin, "6 * 7\n[1, 2].map(x => x * 10).join()\nnosuchname\n")
	require.NoError(t, err)
	assert.Regexp(t, `\] "42"$`, printed(t, stdout))
	assert.Regexp(t, `\] "10,20"$`, printed(t, stdout))
	assert.Regexp(t, `\] "error: ReferenceError: nosuchname is not defined"$`, printed(t, stdout))
	log, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("log")))
	require.NoError(t, err)
	assert.Contains(t, log, "> 6 * 7\n42\n")
}
