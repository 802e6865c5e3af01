package continuity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/continuitytest"
)

// These restate the back button, reload, double submit and second tab
// behaviours with continuitytest's browser, whose Back shows the old page
// as it was (hidden step token included) without a request.

func shown(p *continuitytest.Page) page { return page{status: p.Status, body: p.Body} }

func TestWizardBackThenResubmitInABrowser(t *testing.T) {
	for _, tc := range []struct {
		policy              continuity.StalePolicy
		afterBack, finalish string
	}{
		{continuity.Reject, "confirm", "ann a@x"},
		{continuity.Rewind, "email", "bob b@x"},
		{continuity.Fork, "email", "bob b@x"},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			w := &wizardApp{}
			b := continuitytest.New(t, newServer(t, w.run, &continuity.Options{Logger: quietLogger(), StalePolicy: tc.policy}))
			b.Get("/wizard")
			b.Submit(map[string]string{"name": "ann"})
			require.Equal(t, "confirm", shown(b.Submit(map[string]string{"email": "a@x"})).step())
			b.Back()
			require.Equal(t, "name", shown(b.Back()).step())
			p := shown(b.Submit(map[string]string{"name": "bob"}))
			assert.Equal(t, tc.afterBack, p.step(), p)
			if tc.afterBack == "email" {
				assert.Empty(t, p.stale())
				p = shown(b.Submit(map[string]string{"email": "b@x"}))
			} else {
				assert.Equal(t, "back", p.stale())
			}
			assert.Equal(t, "confirm", p.step())
			done := shown(b.Press("Confirm", nil))
			assert.Equal(t, "done", done.step())
			assert.Equal(t, tc.finalish, done.values())
		})
	}
}

func TestWizardReloadAndDoubleSubmitInABrowser(t *testing.T) {
	w := &wizardApp{}
	b := continuitytest.New(t, newServer(t, w.run, &continuity.Options{Logger: quietLogger(), StalePolicy: continuity.Rewind}))
	b.Get("/wizard")
	first, second := b.DoubleSubmit(map[string]string{"name": "ann"})
	assert.Equal(t, "email", shown(first).step())
	assert.Equal(t, first.Body, second.Body, "both get the step-2 page")
	assert.EqualValues(t, 1, w.advanced.Load())
	reloaded := b.Reload() // the POST again: the same page, nothing advances
	assert.Equal(t, second.Body, reloaded.Body)
	assert.EqualValues(t, 1, w.advanced.Load())
	typed := shown(b.Get("/wizard")) // the address bar: the current page, flagged
	assert.Equal(t, "email", typed.step())
	assert.Equal(t, "reload", typed.stale())
	assert.Equal(t, "ann a@x", shown(b.Submit(map[string]string{"email": "a@x"})).values())
}

func TestWizardSecondTabInABrowser(t *testing.T) {
	for _, tc := range []struct {
		policy    continuity.StalePolicy
		tab2      string // the second tab's confirm page
		tab1Final string // the first tab's done page
	}{
		// The tabs share one flow: the second tab's stale page gets the
		// current page, whose values are the first tab's.
		{continuity.Reject, "ann a@x", "ann a@x"},
		// The second tab's submission takes the flow back; the first
		// tab's next submission is then stale, and shows the current page.
		{continuity.Rewind, "ann t@x", ""},
		// Each tab has a flow of its own.
		{continuity.Fork, "ann t@x", "ann a@x"},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			w := &wizardApp{}
			tab1 := continuitytest.New(t, newServer(t, w.run, &continuity.Options{Logger: quietLogger(), StalePolicy: tc.policy}))
			tab1.Get("/wizard")
			tab1.Submit(map[string]string{"name": "ann"})
			tab2 := tab1.NewTab()
			require.Equal(t, "email", shown(tab2.Get("/wizard")).step())
			require.Equal(t, "confirm", shown(tab1.Submit(map[string]string{"email": "a@x"})).step())
			p2 := shown(tab2.Submit(map[string]string{"email": "t@x"}))
			assert.Equal(t, "confirm", p2.step())
			assert.Equal(t, tc.tab2, p2.values())
			d1 := shown(tab1.Press("Confirm", nil))
			if tc.tab1Final == "" {
				assert.Equal(t, "confirm", d1.step(), "stale: the current page")
				assert.Equal(t, "back", d1.stale())
				assert.Equal(t, "ann t@x", d1.values())
				return
			}
			assert.Equal(t, "done", d1.step())
			assert.Equal(t, tc.tab1Final, d1.values())
		})
	}
}
