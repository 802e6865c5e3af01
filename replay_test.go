package continuity_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

func TestStepTokensAdvanceTheFlow(t *testing.T) {
	w := &wizardApp{}
	_, ts := start(t, w.run, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	_, _, p2 := toConfirm(t, c, ts.URL, "ann", "ann@example.com")
	p3 := submitStep(t, c, ts.URL, p2, "confirm", "1")
	assert.Equal(t, "done", p3.step())
	assert.Equal(t, "ann ann@example.com", p3.values())
	assert.Empty(t, p3.stale())
	assert.EqualValues(t, 3, w.advanced.Load())
	assert.NotEqual(t, p2.token(), p3.token(), "each step has its own token")
}

func TestStepWithoutTokenShowsTheCurrentPage(t *testing.T) {
	w := &wizardApp{}
	_, ts := start(t, w.run, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	p0 := getPage(t, c, ts.URL+"/wizard")
	p1 := submitStep(t, c, ts.URL, p0, "name", "ann")
	require.Equal(t, "email", p1.step())

	// A reload (GET without k) and a POST without k advance nothing.
	again := getPage(t, c, ts.URL+"/wizard")
	assert.Equal(t, http.StatusOK, again.status)
	assert.Equal(t, "email", again.step())
	assert.Equal(t, "ann", again.values(), "the page is rendered from the recorded input")
	assert.Equal(t, "reload", again.stale())
	assert.Equal(t, p1.token(), again.token(), "the re-shown page carries the same token")
	noK := post(t, c, ts.URL+"/wizard", url.Values{"email": {"evil@example.com"}})
	assert.Equal(t, "email", noK.step())
	assert.Equal(t, "reload", noK.stale())
	assert.EqualValues(t, 1, w.advanced.Load())

	// The page's own token still works, once.
	p2 := submitStep(t, c, ts.URL, p1, "email", "ann@example.com")
	assert.Equal(t, "confirm", p2.step())
	assert.Equal(t, "ann ann@example.com", p2.values())
	assert.Empty(t, p2.stale())
}

func TestStepForgedAndForeignTokensAreRefused(t *testing.T) {
	w := &wizardApp{}
	_, ts := start(t, w.run, &continuity.Options{Logger: quietLogger()})
	alice, mallory := browser(t), browser(t)
	a0 := getPage(t, alice, ts.URL+"/wizard")
	m0 := getPage(t, mallory, ts.URL+"/wizard")
	require.NotEqual(t, a0.token(), m0.token())

	tok := []byte(a0.token())
	i := len(tok) - 5 // inside the MAC
	tok[i] = "AB"[(tok[i]-'A'+1)%2&1]
	if string(tok) == a0.token() {
		tok[i] = 'C'
	}
	for name, k := range map[string]string{
		"another session's": m0.token(),
		"altered":           string(tok),
		"garbage":           "not-a-token",
		"too long":          strings.Repeat("A", 200),
	} {
		t.Run(name, func(t *testing.T) {
			p := post(t, alice, ts.URL+"/wizard", url.Values{"k": {k}, "name": {"mallory"}})
			assert.Equal(t, http.StatusForbidden, p.status)
			assert.Contains(t, p.body, "Invalid step token")
		})
	}
	// Nothing advanced: Alice's own page still works, as step 1.
	a1 := submitStep(t, alice, ts.URL, a0, "name", "alice")
	assert.Equal(t, "email", a1.step())
	assert.Equal(t, "alice", a1.values())
	assert.EqualValues(t, 1, w.advanced.Load())
}

func TestDoubleSubmitAdvancesOnce(t *testing.T) {
	w := &wizardApp{}
	_, ts := start(t, w.run, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	p0 := getPage(t, c, ts.URL+"/wizard")
	first := submitStep(t, c, ts.URL, p0, "name", "ann")
	second := submitStep(t, c, ts.URL, p0, "name", "ann")
	assert.Equal(t, "email", first.step())
	assert.Equal(t, first, second, "the duplicate gets the page the first one got")
	assert.EqualValues(t, 1, w.advanced.Load())
	p2 := submitStep(t, c, ts.URL, second, "email", "ann@example.com")
	assert.Equal(t, "ann ann@example.com", p2.values())
}

func TestDoubleSubmitInParallelAdvancesOnce(t *testing.T) {
	w := &wizardApp{}
	_, ts := start(t, w.run, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	p0 := getPage(t, c, ts.URL+"/wizard")
	const n = 4
	pages := make([]page, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { pages[i] = submitStep(t, c, ts.URL, p0, "name", "ann") })
	}
	wg.Wait()
	for _, p := range pages {
		assert.Equal(t, http.StatusOK, p.status)
		assert.Equal(t, "email", p.step(), p)
		assert.Equal(t, pages[0], p)
	}
	assert.EqualValues(t, 1, w.advanced.Load())
}

func TestUntokenizedFlowIgnoresK(t *testing.T) {
	_, ts := start(t, counter, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	for i, q := range []string{"", "?k=forged", "?k=", "?k=AAAA"} {
		_, body := get(t, c, ts.URL+"/"+q)
		assert.Equal(t, string(rune('1'+i)), body)
	}
}

// TestBackThenResubmit goes to the confirm page, then back to the name
// page, and submits a new name, under each policy.
func TestBackThenResubmit(t *testing.T) {
	t.Run("reject", func(t *testing.T) {
		w := &wizardApp{}
		_, ts := start(t, w.run, &continuity.Options{Logger: quietLogger()})
		c := browser(t)
		p0, _, p2 := toConfirm(t, c, ts.URL, "ann", "ann@example.com")
		back := submitStep(t, c, ts.URL, p0, "name", "bob")
		assert.Equal(t, http.StatusOK, back.status)
		assert.Equal(t, "confirm", back.step(), "the current page again")
		assert.Equal(t, "back", back.stale())
		assert.Equal(t, "ann ann@example.com", back.values())
		assert.Equal(t, p2.token(), back.token())
		p3 := submitStep(t, c, ts.URL, back, "confirm", "1")
		assert.Equal(t, "done", p3.step())
		assert.Equal(t, "ann ann@example.com", p3.values(), "the stale input was not used")
	})
	t.Run("rewind", func(t *testing.T) {
		w := &wizardApp{}
		_, ts := start(t, w.run, &continuity.Options{Logger: quietLogger(), StalePolicy: continuity.Rewind})
		c := browser(t)
		p0, _, p2 := toConfirm(t, c, ts.URL, "ann", "ann@example.com")
		back := submitStep(t, c, ts.URL, p0, "name", "bob")
		assert.Equal(t, http.StatusOK, back.status)
		assert.Equal(t, "email", back.step(), "the flow went back to step 1 and took the new name")
		assert.Equal(t, "bob", back.values())
		assert.Empty(t, back.stale())
		assert.EqualValues(t, 3, w.advanced.Load(), "two steps, then the rewound one")

		// The confirm page of the abandoned timeline is stale now.
		old := submitStep(t, c, ts.URL, p2, "confirm", "1")
		assert.Equal(t, "email", old.step(), "its step is no longer on the timeline: the current page")
		assert.Equal(t, "back", old.stale())

		p2b := submitStep(t, c, ts.URL, back, "email", "bob@example.com")
		assert.Equal(t, "confirm", p2b.step())
		assert.NotEqual(t, p2.token(), p2b.token(), "step 2 of the new timeline has a new token")
		p3 := submitStep(t, c, ts.URL, p2b, "confirm", "1")
		assert.Equal(t, "done", p3.step())
		assert.Equal(t, "bob bob@example.com", p3.values(), "only the new name")
	})
	t.Run("rewind set by the flow", func(t *testing.T) {
		w := &wizardApp{policy: continuity.Rewind, policySet: true}
		_, ts := start(t, w.run, &continuity.Options{Logger: quietLogger()})
		c := browser(t)
		p0, _, _ := toConfirm(t, c, ts.URL, "ann", "ann@example.com")
		back := submitStep(t, c, ts.URL, p0, "name", "bob")
		assert.Equal(t, "email", back.step())
		assert.Equal(t, "bob", back.values())
	})
	t.Run("fork", func(t *testing.T) {
		w := &wizardApp{}
		_, ts := start(t, w.run, &continuity.Options{Logger: quietLogger(), StalePolicy: continuity.Fork})
		c := browser(t)
		p0, _, p2 := toConfirm(t, c, ts.URL, "ann", "ann@example.com")
		// The back button in a second tab: the name page, a new name.
		tab := submitStep(t, c, ts.URL, p0, "name", "bob")
		assert.Equal(t, "email", tab.step(), "the tab got its own copy, at step 1")
		assert.Equal(t, "bob", tab.values())
		assert.Empty(t, tab.stale())

		// Both carry on independently, in any order.
		tab2 := submitStep(t, c, ts.URL, tab, "email", "bob@example.com")
		assert.Equal(t, "confirm", tab2.step())
		assert.Equal(t, "bob bob@example.com", tab2.values())
		orig3 := submitStep(t, c, ts.URL, p2, "confirm", "1")
		assert.Equal(t, "done", orig3.step())
		assert.Equal(t, "ann ann@example.com", orig3.values())
		tab3 := submitStep(t, c, ts.URL, tab2, "confirm", "1")
		assert.Equal(t, "done", tab3.step())
		assert.Equal(t, "bob bob@example.com", tab3.values())

		// A reload of either tab shows that tab's page: the browser posts
		// the last form again (a double submit), or gets the page without
		// its token (the browser's own flow).
		again := submitStep(t, c, ts.URL, tab2, "confirm", "1")
		assert.Equal(t, tab3, again)
		plain := getPage(t, c, ts.URL+"/wizard")
		assert.Equal(t, "done", plain.step(), "no token: the browser's own flow")
		assert.Equal(t, "reload", plain.stale())
		assert.Equal(t, "ann ann@example.com", plain.values())
	})
}
