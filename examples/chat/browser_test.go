package main

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
	"github.com/continuity-go/continuity/examples/internal/webtest"
	"github.com/continuity-go/continuity/internal/browsertest"
)

// lastMessage is the script that reads the newest message a page shows.
const lastMessage = `(() => {
  const li = document.querySelector('#log li:last-child');
  if (!li || !li.querySelector('b')) return '';
  return li.querySelector('b').textContent + ': ' + li.querySelector('span').textContent;
})()`

// TestBrowser drives headless Chromium: two browser contexts (two users,
// two cookie jars) open the chat, mounted under /chat/ as in the tour, one
// receiving by long polling and one by Server-Sent Events; each posts, and
// the other shows the message, as text.
func TestBrowser(t *testing.T) {
	browser := browsertest.Start(t)

	chat := newRoom(10 * time.Second)
	srv, err := continuity.New(chat.app, sessionPerPath(&continuity.Options{CookiePath: "/chat/"}))
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/chat/", adapter.Mount("/chat/", srv))
	ts := webtest.Serve(t, mux, srv)

	alice := browsertest.Window(t, browser)
	bob := browsertest.Window(t, browser)
	open := func(ctx context.Context, url string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("message"))))
	}
	open(alice, ts.URL+"/chat/")   // long polling
	open(bob, ts.URL+"/chat/#sse") // Server-Sent Events
	say := func(ctx context.Context, name, message string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("name"), name),
			chromedp.SendKeys(chromedp.ID("message"), message),
			chromedp.Click(chromedp.CSS(`#send button`)),
		))
	}
	sees := func(ctx context.Context, who, want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](lastMessage+" === "+strconv.Quote(want),
			chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(10*time.Millisecond)))
		if err != nil {
			got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](lastMessage))
			status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('status').textContent + ' ' + document.getElementById('error').textContent`))
			t.Fatalf("%s never showed %q; last message %q, status %q: %v", who, want, got, status, err)
		}
	}

	// The long poll of Alice's page is waiting; Bob's stream is open or
	// opening (if not yet, it asks from the version its page showed).
	require.Eventually(t, func() bool { return chat.waiting() == 1 }, 10*time.Second, 10*time.Millisecond)

	hostile := `<img src=x onerror="document.title='pwned'"> & <b>bold</b>`
	say(alice, "Alice <i>", hostile)
	sees(bob, "Bob (SSE)", "Alice <i>: "+hostile)
	sees(alice, "Alice herself", "Alice <i>: "+hostile)

	say(bob, "Bob", "hi Alice")
	sees(alice, "Alice (long poll)", "Bob: hi Alice")

	for ctx, want := range map[context.Context]string{alice: "long polling", bob: "Server-Sent Events"} {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('transport').textContent`))
		require.NoError(t, err)
		assert.Equal(t, want, v)
	}
	for _, ctx := range []context.Context{alice, bob} {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title + '|' +
			document.querySelectorAll('#log img, #log i, #log span b').length + '|' + document.getElementById('message').value`))
		require.NoError(t, err)
		assert.Equal(t, "Chat|0|", v, "no markup from messages in the page, and the input cleared after sending")
	}
}
