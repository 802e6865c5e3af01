package continuity_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/journal"
)

// tokenPage renders a step of a generic tokenized flow: its id, its
// values and a form carrying its token.
func tokenPage(r *continuity.Request, id, values string) {
	if r.Stale() {
		r.Printf(`<p id="stale">%s</p>`, r.StaleReason())
	}
	r.Printf(`<p id="step">%s</p><p id="values">%s</p><form method="post" action="/wizard">%s</form>`, id, values, r.StepField())
}

func TestOnceRunsOnceAcrossRewinds(t *testing.T) {
	var (
		mu   sync.Mutex
		runs []string // the keys Once's function ran with
	)
	app := func(r *continuity.Request) {
		for {
			tokenPage(r, "name", "")
			name := r.Next().Param("name")
			order, err := continuity.Once(r, "order", func(_ context.Context, key string) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				runs = append(runs, key)
				return fmt.Sprintf("order-%d", len(runs)), nil
			})
			require.NoError(t, err)
			stamp := r.Now().UnixNano()
			lucky := r.Random()
			tokenPage(r, "review", fmt.Sprintf("%s %s %d %d", name, order, stamp, lucky))
			note := r.Next().Param("note")
			tokenPage(r, "final", name+" "+order+" "+note)
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger(), StalePolicy: continuity.Rewind})
	c := browser(t)
	p0 := getPage(t, c, ts.URL+"/wizard")
	p1 := submitStep(t, c, ts.URL, p0, "name", "ann")
	require.Equal(t, "review", p1.step())
	review := p1.values()
	require.True(t, strings.HasPrefix(review, "ann order-1 "), review)

	// Back to the review page and on, three times: the order is made once.
	for i := range 3 {
		p2 := submitStep(t, c, ts.URL, p1, "note", fmt.Sprint("note", i))
		require.Equal(t, "final", p2.step(), p2)
		assert.Equal(t, fmt.Sprintf("ann order-1 note%d", i), p2.values())
	}
	// A reload re-renders the review page by replay: the same order, time
	// and random number.
	p2 := submitStep(t, c, ts.URL, p1, "note", "x")
	require.Equal(t, "final", p2.step())
	mu.Lock()
	assert.Len(t, runs, 1, "Once's function ran once: %v", runs)
	mu.Unlock()
	p1again := submitStep(t, c, ts.URL, p0, "name", "ann") // back to the name page: a new timeline
	require.Equal(t, "review", p1again.step())
	assert.True(t, strings.HasPrefix(p1again.values(), "ann order-2 "), "a new timeline makes a new order: %s", p1again.values())
	reload := getPage(t, c, ts.URL+"/wizard")
	assert.Equal(t, "review", reload.step())
	assert.Equal(t, p1again.values(), reload.values(), "a replay gets the recorded order, time and random number")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, runs, 2)
	assert.NotEqual(t, runs[0], runs[1], "each timeline has its own idempotency key")
	assert.Contains(t, runs[0], "/1/order", "the key names the step and the Once: %s", runs[0])
}

// TestDivergenceEndsTheSession makes a flow non-deterministic on purpose:
// what it does at step 1 depends on a variable the test changes between
// the first run and the replay.
func TestDivergenceEndsTheSession(t *testing.T) {
	cases := []struct {
		name   string
		step1  func(r *continuity.Request, changed bool) (stop bool)
		reason string
	}{
		{"an extra Once", func(r *continuity.Request, changed bool) bool {
			if changed {
				continuity.Once(r, "extra", func(context.Context, string) (int, error) { return 1, nil })
			}
			return false
		}, `Once("extra"), which the journal does not have`},
		{"another Once", func(r *continuity.Request, changed bool) bool {
			name := "a"
			if changed {
				name = "b"
			}
			continuity.Once(r, name, func(context.Context, string) (int, error) { return 1, nil })
			return false
		}, `called Once("b"), but the journal has Once("a") at step 1`},
		{"a missing Once", func(r *continuity.Request, changed bool) bool {
			if !changed {
				continuity.Once(r, "gone", func(context.Context, string) (int, error) { return 1, nil })
			}
			return false
		}, `called Next, but the journal has Once("gone") at step 1`},
		{"a Barrier", func(r *continuity.Request, changed bool) bool {
			if changed {
				r.Barrier()
			}
			return false
		}, "called Barrier, which the journal does not have"},
		{"an early return", func(r *continuity.Request, changed bool) bool { return changed },
			"the flow returned at step 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var changed atomic.Bool
			var ended atomic.Value
			app := func(r *continuity.Request) {
				tokenPage(r, "name", "")
				r.Next()
				if tc.step1(r, changed.Load()) {
					return
				}
				tokenPage(r, "email", "")
				r.Next()
				tokenPage(r, "confirm", "")
				r.Next()
			}
			logs := &logBuffer{}
			srv, ts := start(t, app, &continuity.Options{Logger: newLogger(logs), StalePolicy: continuity.Rewind,
				Hooks: continuity.Hooks{SessionEnd: func(_ *continuity.Session, reason error) { ended.Store(reason) }}})
			c := browser(t)
			p0 := getPage(t, c, ts.URL+"/wizard")
			p1 := submitStep(t, c, ts.URL, p0, "name", "ann")
			require.Equal(t, "email", p1.step())
			p2 := submitStep(t, c, ts.URL, p1, "email", "e")
			require.Equal(t, "confirm", p2.step())

			changed.Store(true)
			got := submitStep(t, c, ts.URL, p1, "email", "f") // back to step 1: a replay
			assert.Equal(t, http.StatusInternalServerError, got.status)
			assert.Contains(t, got.body, "This session cannot go on")
			assert.Contains(t, got.body, strings.ReplaceAll(tc.reason, `"`, "&#34;"))
			assert.Contains(t, logs.String(), "replay diverged")
			assert.Contains(t, logs.String(), strings.ReplaceAll(tc.reason, `"`, `\"`))
			require.Eventually(t, func() bool { return ended.Load() != nil }, testTimeout, tick)
			assert.ErrorIs(t, ended.Load().(error), continuity.ErrDivergence)
			// The end is counted once the session has left the table,
			// just after its SessionEnd hook ran.
			require.Eventually(t, func() bool { return srv.Metrics().SessionsEnded["divergence"] == 1 }, testTimeout, tick)

			fresh := getPage(t, c, ts.URL+"/wizard")
			assert.Equal(t, "name", fresh.step(), "the next request starts a new session")
			assert.NotEqual(t, p0.token(), fresh.token())
		})
	}
}

// shop is a checkout behind a barrier: cart, address, confirm, then the
// order placed (Barrier, and an order number from Once).
func shop(r *continuity.Request) {
	r.SetStalePolicy(continuity.Rewind)
	tokenPage(r, "cart", "")
	item := r.Next().Param("item")
	tokenPage(r, "address", item)
	addr := r.Next().Param("addr")
	tokenPage(r, "confirm", item+" "+addr)
	r.Next()
	r.Barrier()
	id, _ := continuity.Once(r, "order", func(context.Context, string) (int, error) { return 42, nil })
	for {
		tokenPage(r, "placed", fmt.Sprintf("%s %s #%d", item, addr, id))
		r.Next()
	}
}

func TestBarrierRefusesEarlierSteps(t *testing.T) {
	_, ts := start(t, shop, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	p0 := getPage(t, c, ts.URL+"/wizard")
	p1 := submitStep(t, c, ts.URL, p0, "item", "tea")
	// Back and forth before the barrier works.
	p1 = submitStep(t, c, ts.URL, p0, "item", "coffee")
	require.Equal(t, "address", p1.step())
	p2 := submitStep(t, c, ts.URL, p1, "addr", "home")
	require.Equal(t, "confirm", p2.step())
	p3 := submitStep(t, c, ts.URL, p2, "place", "1")
	require.Equal(t, "placed", p3.step())
	require.Equal(t, "coffee home #42", p3.values())

	// A double click on "place order" gets the same page, not a 409.
	again := submitStep(t, c, ts.URL, p2, "place", "1")
	assert.Equal(t, p3, again)

	for name, from := range map[string]page{"cart": p0, "address": p1, "confirm, changed": p2} {
		t.Run(name, func(t *testing.T) {
			got := submitStep(t, c, ts.URL, from, "item", "water")
			assert.Equal(t, http.StatusConflict, got.status)
			assert.Contains(t, got.body, "This can no longer be changed")
			link := got.link()
			require.NotEmpty(t, link)
			here := getPage(t, c, at(ts.URL+"/wizard", link))
			assert.Equal(t, http.StatusOK, here.status)
			assert.Equal(t, "placed", here.step(), "the link shows the current step")
			assert.Equal(t, "coffee home #42", here.values())
			assert.Empty(t, here.stale(), "a view of the current step is not stale")
		})
	}
	// The placed page still works.
	p4 := submitStep(t, c, ts.URL, p3, "more", "1")
	assert.Equal(t, "placed", p4.step())
}

// loop is a tokenized flow that never ends: step N shows N.
func loop(r *continuity.Request) {
	r.SetStalePolicy(continuity.Rewind)
	for i := 0; ; i++ {
		tokenPage(r, fmt.Sprint(i), r.Param("v"))
		r.Next()
	}
}

func TestJournalCaps(t *testing.T) {
	store := &seqStore{Memory: journal.NewMemory(journal.Limits{MaxEntries: -1, MaxBytes: -1})}
	logs := &logBuffer{}
	_, ts := start(t, loop, &continuity.Options{Logger: newLogger(logs), Journal: store, JournalMaxEntries: 6})
	c := browser(t)
	pages := []page{getPage(t, c, ts.URL+"/wizard")}
	step := func(from page, v string) page {
		p := submitStep(t, c, ts.URL, from, "v", v)
		require.Equal(t, http.StatusOK, p.status, p)
		return p
	}
	for i := 1; i <= 4; i++ {
		pages = append(pages, step(pages[len(pages)-1], "a"))
	}
	// Five entries (steps 0..4). Back to step 1: a rewind entry and step 2
	// make seven, past the cap: the abandoned steps 3 and 4 are dropped.
	back := step(pages[1], "b")
	require.Equal(t, "2", back.step())
	assert.Equal(t, 1, store.Sessions())
	assert.LessOrEqual(t, store.max(), uint64(6), "the journal never held more than the cap")
	// Still replayable: back to step 0.
	again := step(pages[0], "c")
	require.Equal(t, "1", again.step())
	assert.Equal(t, "c", again.values())

	// Forward past the cap: the journal is dropped, the flow runs on.
	p, prev := again, again
	for range 8 {
		prev, p = p, step(p, "d")
	}
	assert.Equal(t, "9", p.step())
	assert.Zero(t, store.Sessions(), "the journal is gone")
	assert.Contains(t, logs.String(), "session journal dropped")
	old := submitStep(t, c, ts.URL, again, "v", "e")
	assert.Equal(t, http.StatusGone, old.status)
	assert.Contains(t, old.body, "Too old to go back to")
	here := getPage(t, c, at(ts.URL+"/wizard", old.link()))
	assert.Equal(t, "9", here.step(), "the link shows the current page (the kept copy)")
	reload := getPage(t, c, ts.URL+"/wizard")
	assert.Equal(t, http.StatusOK, reload.status)
	assert.Equal(t, "9", reload.step())
	dup := step(prev, "d")
	assert.Equal(t, p, dup, "a double submit gets the kept page")
	next := step(p, "f")
	assert.Equal(t, "10", next.step(), "forward still works")
	assert.Zero(t, store.Sessions())
	assert.LessOrEqual(t, store.max(), uint64(6))
}

func TestJournalByteCap(t *testing.T) {
	store := journal.NewMemory(journal.Limits{MaxEntries: -1, MaxBytes: -1})
	_, ts := start(t, loop, &continuity.Options{Logger: quietLogger(), Journal: store, JournalMaxBytes: 4 << 10})
	c := browser(t)
	p := getPage(t, c, ts.URL+"/wizard")
	big := strings.Repeat("x", 1000)
	for range 3 {
		p = submitStep(t, c, ts.URL, p, "v", big)
	}
	assert.Equal(t, 1, store.Sessions(), "three kilobytes fit")
	p = submitStep(t, c, ts.URL, p, "v", big)
	p = submitStep(t, c, ts.URL, p, "v", big)
	assert.Equal(t, "5", p.step())
	assert.Zero(t, store.Sessions(), "past four, the journal is dropped")
}

func TestJournalDeletedWhenTheSessionEnds(t *testing.T) {
	store := journal.NewMemory(journal.Limits{})
	app := func(r *continuity.Request) {
		tokenPage(r, "0", "")
		r.Next()
		tokenPage(r, "1", "")
		r.Next()
		r.Print("bye")
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger(), Journal: store})
	c := browser(t)
	p := getPage(t, c, ts.URL+"/wizard")
	p = submitStep(t, c, ts.URL, p, "v", "a")
	assert.Equal(t, 1, store.Sessions())
	bye := submitStep(t, c, ts.URL, p, "v", "b")
	assert.Equal(t, "bye", bye.body)
	require.Eventually(t, func() bool { return store.Sessions() == 0 }, testTimeout, tick)
}

// TestReplacedRunEndsCleanly: a replay ends the run it replaces (its
// deferred calls run) without ending the session (no cleanups, no
// SessionEnd), and nothing accumulates over many replays.
func TestReplacedRunEndsCleanly(t *testing.T) {
	var deferred, cleanups, ends atomic.Int32
	app := func(r *continuity.Request) {
		defer deferred.Add(1)
		r.Session().Cleanup(func() { cleanups.Add(1) })
		for i := 0; ; i++ {
			tokenPage(r, fmt.Sprint(i), "")
			r.Next()
		}
	}
	srv, ts := start(t, app, &continuity.Options{Logger: quietLogger(),
		Hooks: continuity.Hooks{SessionEnd: func(*continuity.Session, error) { ends.Add(1) }}})
	c := browser(t)
	p := getPage(t, c, ts.URL+"/wizard")
	p = submitStep(t, c, ts.URL, p, "v", "a")
	reload := getPage(t, c, ts.URL+"/wizard")
	require.Equal(t, "1", reload.step())
	require.Eventually(t, func() bool { return deferred.Load() == 1 }, testTimeout, tick, "the replaced run's deferred calls ran")
	assert.Zero(t, cleanups.Load())
	assert.Zero(t, ends.Load())

	before := runtime.NumGoroutine()
	for range 20 {
		require.Equal(t, "1", getPage(t, c, ts.URL+"/wizard").step())
	}
	require.Eventually(t, func() bool { return deferred.Load() == 21 }, testTimeout, tick)
	assert.LessOrEqual(t, runtime.NumGoroutine(), before+2, "replays leave no goroutines behind")
	p = submitStep(t, c, ts.URL, p, "v", "b")
	assert.Equal(t, "2", p.step(), "the replayed run carries on")
	assert.Equal(t, 1, srv.Metrics().LiveSessions)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.EqualValues(t, 1, cleanups.Load(), "the cleanup registered once runs once")
	assert.EqualValues(t, 1, ends.Load())
	assert.EqualValues(t, 22, deferred.Load())
}

func TestReplayTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ended atomic.Value
		app := func(r *continuity.Request) {
			for i := 0; ; i++ {
				time.Sleep(time.Second) // slow between steps: each replayed step sleeps again
				tokenPage(r, fmt.Sprint(i), "")
				r.Next()
			}
		}
		srv := startInBubble(t, app, &continuity.Options{Logger: quietLogger(), ReplayTimeout: 2500 * time.Millisecond,
			Hooks: continuity.Hooks{SessionEnd: func(_ *continuity.Session, reason error) { ended.Store(reason) }}})
		c := srv.browser(t)
		p := getPage(t, c, bubbleBase+"/wizard")
		p = submitStep(t, c, bubbleBase, p, "v", "a")
		p = submitStep(t, c, bubbleBase, p, "v", "b")
		require.Equal(t, "2", p.step())
		// The replay reaches step 2 after replaying steps 0 and 1 (2s);
		// step 2 itself is the live answer, under the response bound.
		start := time.Now()
		ok := getPage(t, c, bubbleBase+"/wizard")
		require.Equal(t, "2", ok.step())
		assert.Equal(t, 3*time.Second, time.Since(start))
		p = submitStep(t, c, bubbleBase, p, "v", "c")
		require.Equal(t, "3", p.step())

		start = time.Now()
		slow := getPage(t, c, bubbleBase+"/wizard") // three steps to replay: 3s, past the bound
		assert.Equal(t, http.StatusServiceUnavailable, slow.status)
		assert.Contains(t, slow.body, "could not be restored in time")
		assert.Equal(t, 2500*time.Millisecond, time.Since(start))
		synctest.Wait()
		require.NotNil(t, ended.Load())
		assert.ErrorIs(t, ended.Load().(error), continuity.EndReplayTimeout)
		assert.EqualValues(t, 1, srv.Metrics().SessionsEnded["replay_timeout"])
		fresh := getPage(t, c, bubbleBase+"/wizard")
		assert.Equal(t, "0", fresh.step(), "a new session")
	})
}

func TestForkedTabsAreIndependentSessions(t *testing.T) {
	var starts, ends atomic.Int32
	w := &wizardApp{}
	srv, ts := start(t, w.run, &continuity.Options{Logger: quietLogger(), StalePolicy: continuity.Fork,
		Hooks: continuity.Hooks{
			SessionStart: func(*continuity.Session) { starts.Add(1) },
			SessionEnd:   func(*continuity.Session, error) { ends.Add(1) },
		}})
	c := browser(t)
	p0, p1, _ := toConfirm(t, c, ts.URL, "ann", "a@x")
	tabs := []page{}
	for _, name := range []string{"bob", "cy", "di"} {
		tab := submitStep(t, c, ts.URL, p0, "name", name)
		require.Equal(t, "email", tab.step())
		require.Equal(t, name, tab.values())
		tabs = append(tabs, tab)
	}
	// A fork of a fork: tab 0's page goes back within the branch.
	sub := submitStep(t, c, ts.URL, p1, "email", "z@x")
	require.Equal(t, "confirm", sub.step())
	assert.Equal(t, "ann z@x", sub.values())
	for i, tab := range tabs {
		next := submitStep(t, c, ts.URL, tab, "email", fmt.Sprint(i, "@x"))
		assert.Equal(t, "confirm", next.step())
		assert.Equal(t, fmt.Sprintf("%s %d@x", []string{"bob", "cy", "di"}[i], i), next.values())
	}
	assert.EqualValues(t, 5, starts.Load(), "the browser's session and four branches")
	assert.Equal(t, 1, srv.Metrics().LiveSessions, "branches are not in the session table")

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.EqualValues(t, 5, ends.Load(), "every branch ends with the browser's session")
}

func TestForkedTabOfAnEndedBranch(t *testing.T) {
	app := func(r *continuity.Request) {
		tokenPage(r, "0", "")
		r.Next()
		tokenPage(r, "1", r.Param("v"))
		r.Next()
		if r.Param("v") == "quit" {
			r.Print("bye")
			return
		}
		for {
			tokenPage(r, "2", r.Param("v"))
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger(), StalePolicy: continuity.Fork})
	c := browser(t)
	p0 := getPage(t, c, ts.URL+"/wizard")
	p1 := submitStep(t, c, ts.URL, p0, "v", "a")
	submitStep(t, c, ts.URL, p1, "v", "b")
	tab := submitStep(t, c, ts.URL, p0, "v", "t")
	require.Equal(t, "1", tab.step())
	bye := submitStep(t, c, ts.URL, tab, "v", "quit")
	require.Equal(t, "bye", bye.body)
	gone := post(t, c, ts.URL+"/wizard", url.Values{"k": {tab.token()}, "v": {"again"}})
	assert.Equal(t, http.StatusGone, gone.status)
	assert.Contains(t, gone.body, "This tab has ended")
	here := getPage(t, c, at(ts.URL+"/wizard", gone.link()))
	assert.Equal(t, "2", here.step(), "the link goes to the browser's own flow")
}

func TestStepURLInQueryMode(t *testing.T) {
	app := func(r *continuity.Request) {
		for i := 0; ; i++ {
			if r.Stale() {
				r.Print(`<p id="stale">`, r.StaleReason(), `</p>`)
			}
			r.Printf(`<p id="step">%d</p><a href="%s">next</a>`, i, r.StepURL("/q?x=1"))
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger(), Mode: continuity.ByQuery})
	c := &http.Client{} // no cookies
	p0 := getPage(t, c, ts.URL+"/q")
	link := p0.link()
	u, err := url.Parse(link)
	require.NoError(t, err)
	assert.Equal(t, "/q", u.Path)
	assert.Equal(t, "1", u.Query().Get("x"))
	assert.NotEmpty(t, u.Query().Get("k"))
	sid := u.Query().Get("sid")
	require.NotEmpty(t, sid, "the link keeps the session")
	p1 := getPage(t, c, ts.URL+link)
	assert.Equal(t, "1", p1.step())
	again := getPage(t, c, ts.URL+"/q?sid="+url.QueryEscape(sid))
	assert.Equal(t, "1", again.step(), "no token: the current page")
	assert.Equal(t, "reload", again.stale())
	dup := getPage(t, c, ts.URL+link)
	assert.Equal(t, p1, dup, "following the same link twice: the first answer")
	p2 := getPage(t, c, ts.URL+p1.link())
	assert.Equal(t, "2", p2.step())
}

// TestCallbacksSurviveReplay: with step tokens, a replayed step binds the
// same callback tokens as it did the first time, so going back to a page
// and choosing another of its links works.
func TestCallbacksSurviveReplay(t *testing.T) {
	app := func(r *continuity.Request) {
		r.SetStalePolicy(continuity.Rewind)
		chosen := ""
		for i := 0; ; i++ {
			r.Printf(`<p id="step">%d</p><p id="values">%s</p>`, i, chosen)
			for _, name := range []string{"a", "b"} {
				r.Printf(`<a href="%s">%s</a>`, r.StepURL(r.CallbackURL(func() { chosen = name })), name)
			}
			r.Next().RunCallbacks()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	p0 := getPage(t, c, ts.URL+"/")
	links := regexp.MustCompile(`<a href="([^"]+)">`).FindAllStringSubmatch(p0.body, -1)
	require.Len(t, links, 2)
	a, b := html.UnescapeString(links[0][1]), html.UnescapeString(links[1][1])
	p1 := getPage(t, c, ts.URL+"/"+a)
	assert.Equal(t, "1", p1.step())
	assert.Equal(t, "a", p1.values())
	back := getPage(t, c, ts.URL+"/"+b) // page 0's other link: back to step 0
	assert.Equal(t, "1", back.step())
	assert.Equal(t, "b", back.values(), "the replayed step 0 bound the same callbacks")
}

// TestNextErrFlowIsReplaced: a flow that handles NextErr's error itself
// returns when a replay replaces its run, and the session carries on.
func TestNextErrFlowIsReplaced(t *testing.T) {
	var returned atomic.Int32
	app := func(r *continuity.Request) {
		for i := 0; ; i++ {
			tokenPage(r, fmt.Sprint(i), "")
			if err := r.NextErr(); err != nil {
				if !errors.Is(err, continuity.ErrSessionClosed) {
					t.Errorf("NextErr: %v", err)
				}
				returned.Add(1)
				return
			}
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	p := getPage(t, c, ts.URL+"/wizard")
	p = submitStep(t, c, ts.URL, p, "v", "a")
	reload := getPage(t, c, ts.URL+"/wizard")
	assert.Equal(t, "1", reload.step())
	assert.Equal(t, "reload", reload.stale())
	require.Eventually(t, func() bool { return returned.Load() == 1 }, testTimeout, tick)
	p = submitStep(t, c, ts.URL, p, "v", "b")
	assert.Equal(t, "2", p.step(), "the session lives on in the replayed run")
}
