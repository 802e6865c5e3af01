package redistore_test

import (
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
)

// linkFlow counts its steps; each page links to the next with its step
// token, and going back rewinds.
func linkFlow(r *continuity.Request) {
	r.SetStalePolicy(continuity.Rewind)
	for n := 0; ; n++ {
		fmt.Fprintf(r, `<p>step %d</p><a id="next" href="%s">next</a>`, n, r.StepURL("/"))
		r.Next()
	}
}

var nextRE = regexp.MustCompile(`<a id="next" href="([^"]+)">`)

// TestTakeoverKeepsTheTimelines: a session that went back (a rewind
// starts a new timeline, and its tokens name it) is taken over by another
// node, which must know the timelines too: the current page's link goes
// on, and an old page's link still rewinds.
func TestTakeoverKeepsTheTimelines(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := e.nodeWith(t, "a", time.Minute, linkFlow, nil)
	b := e.nodeWith(t, "b", time.Minute, linkFlow, nil)
	c := browser(t)
	follow := func(n *ctNode, link string, want int) string {
		t.Helper()
		code, body := get(t, c, n.web.URL+link)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, fmt.Sprintf("<p>step %d</p>", want))
		m := nextRE.FindStringSubmatch(body)
		require.NotNil(t, m, body)
		return html.UnescapeString(m[1])
	}
	l0 := follow(a, "/", 0)
	l1 := follow(a, l0, 1)
	l2 := follow(a, l1, 2)
	follow(a, l2, 3)
	l2b := follow(a, l1, 2) // back to step 1's page, and on: a new timeline
	l3b := follow(a, l2b, 3)
	require.NoError(t, a.srv.Drain(ctx(t)))

	l4b := follow(b, l3b, 4)
	follow(b, l1, 2) // an old timeline's page still rewinds
	code, body := get(t, c, b.web.URL+l4b)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<p>step 2</p>", "the abandoned step's link shows where the flow is")
}

// TestStepsLostByTheStore: the store lost the journal's last appends (as
// Redis does in a crash with appendfsync everysec; here they are deleted
// from the stream), and another node takes the session over from what is
// left. The browser's page is ahead of the journal: it is told so, and
// goes on from the step the session is at.
func TestStepsLostByTheStore(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	var logs redistest.SyncBuffer
	a := e.nodeWith(t, "a", time.Minute, linkFlow, nil)
	b := e.nodeWith(t, "b", time.Minute, linkFlow, slog.New(slog.NewTextHandler(&logs, nil)))
	c := browser(t)
	page := func(n *ctNode, link string) (int, string) {
		t.Helper()
		return get(t, c, n.web.URL+link)
	}
	link := "/"
	for i := 0; i <= 5; i++ {
		_, body := page(a, link)
		require.Contains(t, body, fmt.Sprintf("<p>step %d</p>", i))
		link = html.UnescapeString(nextRE.FindStringSubmatch(body)[1])
	}
	require.NoError(t, a.srv.Drain(ctx(t)))
	raw := e.client()
	streams, err := raw.Keys(ctx(t), "continuity:journal:*:j").Result()
	require.NoError(t, err)
	require.Len(t, streams, 1)
	require.NoError(t, raw.XDel(ctx(t), streams[0], "0-6", "0-5").Err(), "the inputs of steps 4 and 5 are lost")

	code, body := page(b, link)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "Some of your steps were lost")
	assert.Contains(t, logs.String(), "ahead of its journal")
	here := regexp.MustCompile(`<a href="([^"]+)">Go to the page you are at</a>`).FindStringSubmatch(body)
	require.NotNil(t, here, body)
	_, body = page(b, strings.TrimPrefix(html.UnescapeString(here[1]), ".")) // a link relative to "/"
	require.Contains(t, body, "<p>step 3</p>", "the session is at the last step its journal kept")
	_, body = page(b, html.UnescapeString(nextRE.FindStringSubmatch(body)[1]))
	assert.Contains(t, body, "<p>step 4</p>", "and goes on from there")
}

// TestStepsLostAcrossARewind: the lost appends include a rewind, so the
// browser's page is from a timeline the journal does not know.
func TestStepsLostAcrossARewind(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := e.nodeWith(t, "a", time.Minute, linkFlow, nil)
	b := e.nodeWith(t, "b", time.Minute, linkFlow, nil)
	c := browser(t)
	follow := func(link string, want int) string {
		t.Helper()
		_, body := get(t, c, a.web.URL+link)
		require.Contains(t, body, fmt.Sprintf("<p>step %d</p>", want))
		return html.UnescapeString(nextRE.FindStringSubmatch(body)[1])
	}
	l1 := follow(follow("/", 0), 1)
	follow(follow(l1, 2), 3)
	l3b := follow(follow(l1, 2), 3) // back to step 1's page, and on
	require.NoError(t, a.srv.Drain(ctx(t)))
	raw := e.client()
	streams, err := raw.Keys(ctx(t), "continuity:journal:*:j").Result()
	require.NoError(t, err)
	require.Len(t, streams, 1)
	es, err := raw.XRange(ctx(t), streams[0], "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, es, 7, "steps 0 to 3, the rewind to step 1, steps 2 and 3")
	require.NoError(t, raw.XDel(ctx(t), streams[0], "0-5", "0-6", "0-7").Err(), "the rewind and what followed are lost")

	code, body := get(t, c, b.web.URL+l3b)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "Some of your steps were lost")
}

// TestTakeoverOfACompactedJournal: a journal at its cap drops its
// abandoned timelines, rewinds included; the node that takes the session
// over must still number the current timeline as its tokens do.
func TestTakeoverOfACompactedJournal(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	small := func(o *continuity.Options) { o.JournalMaxEntries = 8 }
	a := e.nodeWith(t, "a", time.Minute, linkFlow, nil, small)
	b := e.nodeWith(t, "b", time.Minute, linkFlow, nil, small)
	c := browser(t)
	follow := func(n *ctNode, link string, want int) string {
		t.Helper()
		code, body := get(t, c, n.web.URL+link)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, fmt.Sprintf("<p>step %d</p>", want))
		return html.UnescapeString(nextRE.FindStringSubmatch(body)[1])
	}
	l1 := follow(a, follow(a, "/", 0), 1)
	follow(a, follow(a, l1, 2), 3)
	link := follow(a, l1, 2) // back, and on: a second timeline
	for i := 3; i <= 5; i++ {
		link = follow(a, link, i) // past the cap of 8 entries: compacted
	}
	raw := e.client()
	streams, err := raw.Keys(ctx(t), "continuity:journal:*:j").Result()
	require.NoError(t, err)
	require.Len(t, streams, 1)
	n, err := raw.XLen(ctx(t), streams[0]).Result()
	require.NoError(t, err)
	require.Less(t, n, int64(8), "the journal was compacted")
	require.NoError(t, a.srv.Drain(ctx(t)))

	follow(b, link, 6)
}
