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
