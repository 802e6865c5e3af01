package main

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const countRE = `<span id="count">(\d+)</span>`

func TestCounter(t *testing.T) {
	ts := webtest.ServeApp(t, counter)
	alice := webtest.NewBrowser(t, ts)
	page := alice.Get(ts.URL)
	assert.Equal(t, "1", webtest.Find(t, page, countRE))
	for want := 2; want <= 3; want++ {
		next := webtest.Resolve(t, ts.URL+"/", webtest.Find(t, page, `<a href="([^"]*)">Count again</a>`))
		page = alice.Get(next)
		assert.Equal(t, strconv.Itoa(want), webtest.Find(t, page, countRE))
	}

	// A second browser has its own session, and its own count.
	bob := webtest.NewBrowser(t, ts)
	assert.Equal(t, "1", webtest.Find(t, bob.Get(ts.URL), countRE))
	assert.Equal(t, "2", webtest.Find(t, bob.Get(ts.URL+"/anywhere"), countRE))
	assert.Equal(t, "4", webtest.Find(t, alice.Get(ts.URL), countRE))
}

// TestCounterOverFastCGI: served over FastCGI (as -fcgi does), the count
// advances for a browser that keeps its cookie, and a browser without one
// starts at 1.
func TestCounterOverFastCGI(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			addr := webtest.ServeFCGI(t, network, counter)
			alice := webtest.NewFCGIBrowser(t, network, addr)
			for want := 1; want <= 3; want++ {
				page := alice.Get("http://app.test/")
				assert.Equal(t, strconv.Itoa(want), webtest.Find(t, page, countRE))
			}
			u, err := url.Parse("http://app.test/")
			require.NoError(t, err)
			if cookies := alice.Jar.Cookies(u); assert.Len(t, cookies, 1) {
				assert.Equal(t, "cid", cookies[0].Name)
			}

			bob := webtest.NewFCGIBrowser(t, network, addr)
			assert.Equal(t, "1", webtest.Find(t, bob.Get("http://app.test/"), countRE))
			assert.Equal(t, "4", webtest.Find(t, alice.Get("http://app.test/"), countRE))
		})
	}
}
