package main

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
	"github.com/continuity-go/continuity/internal/browsertest"
)

// TestBrowser drives headless Chromium through the wizard: it fills in
// steps 1 and 2, reaches step 3, presses the browser's own Back button
// twice to step 1, submits a new name, goes on to the done page, and finds
// there only the new name.
func TestBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	srv, err := build(demo.Config{})
	require.NoError(t, err)
	var requests atomic.Int32 // for pages: favicon.ico does not count
	base := webtest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/favicon.ico" {
			requests.Add(1)
		}
		srv.ServeHTTP(w, r)
	}), srv).URL + "/"
	ctx, cancel := context.WithTimeout(browser, time.Minute)
	defer cancel()

	// Each action that leaves a page waits for what only the next page
	// has, so that no action lands on the page being left.
	heading := func(text string) chromedp.Search {
		return chromedp.Search(`//h2[@id="step"][text()="` + text + `"]`)
	}
	input := func(name string) chromedp.Search { return chromedp.Search(`//input[@name="` + name + `"]`) }
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...), what)
	}
	// fill types value into the field, as a user who selects what the
	// field holds and types over it, and submits its form.
	fill := func(field, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.Clear(input(field)), chromedp.SendKeys(input(field), value), chromedp.Submit(input(field)))
	}
	text := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		require.NoError(t, err, "the text of #%s", id)
		return s
	}

	do("open step 1", chromedp.Navigate(base), chromedp.WaitVisible(heading("Step 1 of 3")))
	do("submit the name", fill("name", "Ann"), chromedp.WaitVisible(heading("Step 2 of 3")))
	do("submit the email", fill("email", "ann@example.com"), chromedp.WaitVisible(heading("Step 3 of 3")))
	assert.Equal(t, "Ann", text("name"))

	// The earlier pages come back from the browser's history, as they
	// were: no request reaches the server until a form is sent.
	sent := requests.Load()
	do("back to step 2", back, chromedp.WaitVisible(heading("Step 2 of 3")))
	do("back to step 1", back)

	// Chromium restores step 1 from its back/forward cache, and chromedp
	// then loses track of the page's document (DOM.documentUpdated comes
	// before the Page.frameNavigated that resets chromedp's frame), so
	// that queries wait forever: script reads and fills this page.
	script(t, ctx, "back to step 1", `document.getElementById("step").textContent === "Step 1 of 3"`)
	assert.Equal(t, sent, requests.Load(), "the back button sends no request")
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
  const name = document.querySelector('input[name="name"]');
  name.value = "Bob";
  name.form.requestSubmit();
  return true;
})()`))
	require.NoError(t, err, "submit a new name")
	do("see step 2", chromedp.WaitVisible(heading("Step 2 of 3")))
	hello, err := chromedp.Run(ctx, chromedp.Text(chromedp.Search(`//p[starts-with(text(), "Hello")]`)))
	require.NoError(t, err)
	assert.Equal(t, "Hello, Bob.", hello)
	do("submit the email", fill("email", "bob@example.com"), chromedp.WaitVisible(heading("Step 3 of 3")))
	assert.Equal(t, "Bob", text("name"))
	do("confirm", chromedp.Click(chromedp.Search(`//button[@name="confirm"]`)), chromedp.WaitVisible(heading("Done")))
	assert.Equal(t, "Bob", text("name"))
	assert.Equal(t, "bob@example.com", text("email"))
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.Search(`//body`)))
	require.NoError(t, err)
	assert.NotContains(t, body, "Ann")
	assert.NotContains(t, body, "ann@")
}

// script evaluates expr in the page until it is true. It evaluates again
// after an error too: the page's script context may not be known yet
// right after a navigation.
func script(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s is not true: %v", what, expr, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// back presses the browser's Back button: it goes to the previous entry
// of the tab's history, as chromedp.NavigateBack does, and returns once
// the browser shows it. It does not wait for a load event, as
// NavigateBack does: a page that Chromium restores from its back/forward
// cache fires none.
var back chromedp.Action[chromedp.Void] = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	h, err := cdp.Call(ctx, t, cdppage.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		return err
	}
	if h.CurrentIndex <= 0 || h.CurrentIndex >= int64(len(h.Entries)) {
		return errors.New("no page to go back to")
	}
	navigated := chromedp.Events(ctx, cdppage.FrameNavigated)
	if _, err := cdp.Call(ctx, t, cdppage.NavigateToHistoryEntry, cdppage.NavigateToHistoryEntryParams{EntryID: h.Entries[h.CurrentIndex-1].ID}); err != nil {
		return err
	}
	for ev, err := range navigated {
		if err != nil || ev.Frame.ParentID == "" {
			return err
		}
	}
	return ctx.Err()
})
