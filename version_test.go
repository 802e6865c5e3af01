package continuity_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// TestVersionFollowsTheRecordedVersion deploys three versions of a flow
// under running sessions (code is what a replay runs): 1 has no phone
// step, 2 adds it behind Version("phone", 1), 3 knows version 2. A reload
// re-renders the page by replaying the session's journal with the code of
// the moment: each session keeps the path it was recorded on, and a
// session recorded with a version the code does not know (a rollback)
// ends with the divergence page.
func TestVersionFollowsTheRecordedVersion(t *testing.T) {
	var code atomic.Int32
	code.Store(1)
	app := func(r *continuity.Request) {
		tokenPage(r, "name", "")
		name := r.Next().Param("name")
		v := 0
		if c := code.Load(); c >= 2 {
			v = r.Version("phone", int(c-1))
		}
		phone := "-"
		if v >= 1 {
			tokenPage(r, "phone", name)
			phone = r.Next().Param("phone")
		}
		for {
			tokenPage(r, "done", fmt.Sprintf("%s %s v%d", name, phone, v))
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	reload := func(c *http.Client) page { return getPage(t, c, ts.URL+"/wizard") }

	a := browser(t)
	p := submitStep(t, a, ts.URL, getPage(t, a, ts.URL+"/wizard"), "name", "ann")
	require.Equal(t, "done", p.step())
	require.Equal(t, "ann - v0", p.values())

	code.Store(2) // the phone step is deployed
	p = reload(a)
	assert.Equal(t, "done", p.step(), "the old code never asked: version 0, no phone step")
	assert.Equal(t, "ann - v0", p.values())
	p = submitStep(t, a, ts.URL, p)
	assert.Equal(t, "ann - v0", p.values(), "after the replay the session goes on live on the old path")

	b := browser(t)
	p = submitStep(t, b, ts.URL, getPage(t, b, ts.URL+"/wizard"), "name", "cy")
	require.Equal(t, "phone", p.step(), "a new session gets the newest version")
	p = submitStep(t, b, ts.URL, p, "phone", "555")
	require.Equal(t, "cy 555 v1", p.values())

	code.Store(3)
	p = reload(b)
	assert.Equal(t, "cy 555 v1", p.values(), "replayed with the version it was recorded with")

	c := browser(t)
	p = submitStep(t, c, ts.URL, getPage(t, c, ts.URL+"/wizard"), "name", "dee")
	p = submitStep(t, c, ts.URL, p, "phone", "777")
	require.Equal(t, "dee 777 v2", p.values())

	code.Store(2) // rolled back: this code knows versions up to 1
	p = reload(c)
	assert.Equal(t, http.StatusInternalServerError, p.status)
	assert.Contains(t, p.body, "This session cannot go on")
	assert.Contains(t, p.body, "recorded with version 2 of &#34;phone&#34;, and this code knows versions up to 1")
	p = reload(b)
	assert.Equal(t, "cy 555 v1", p.values(), "a session recorded with a version the code knows goes on")
}

// TestVersionCallsCanMove: a Version call found by name wherever it is in
// the journal, and one the code no longer makes, neither diverge.
func TestVersionCallsCanMove(t *testing.T) {
	var moved atomic.Bool
	app := func(r *continuity.Request) {
		if !moved.Load() {
			r.Version("x", 3)
		}
		tokenPage(r, "a", "")
		r.Next()
		v := -1
		if moved.Load() {
			v = r.Version("x", 3)
		}
		continuity.Once(r, "o", func(context.Context, string) (int, error) { return 1, nil })
		for {
			tokenPage(r, "b", fmt.Sprint(v))
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	p := submitStep(t, c, ts.URL, getPage(t, c, ts.URL+"/wizard"))
	require.Equal(t, "-1", p.values())
	moved.Store(true)
	p = getPage(t, c, ts.URL+"/wizard")
	assert.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, "3", p.values(), "the recorded version, found by name")
	moved.Store(false)
	p = getPage(t, c, ts.URL+"/wizard")
	assert.Equal(t, "-1", p.values(), p.body)
}

// TestVersionBelowZero: a negative max counts as 0, live and on replay.
func TestVersionBelowZero(t *testing.T) {
	app := func(r *continuity.Request) {
		v := r.Version("x", -3)
		for {
			tokenPage(r, "a", fmt.Sprint(v))
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	p := getPage(t, c, ts.URL+"/wizard")
	require.Equal(t, "0", p.values())
	p = getPage(t, c, ts.URL+"/wizard") // a reload replays it
	assert.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, "0", p.values())
}
