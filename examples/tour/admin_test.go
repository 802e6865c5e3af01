package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tour gives -admin an admin page per example, each listing that
// example's sessions only.
func TestAdminPages(t *testing.T) {
	tr, ts := serveTour(t)
	pages := tr.AdminPages()
	for _, name := range []string{"counter", "hello", "guesspeek", "chat"} {
		assert.Contains(t, pages, name)
	}
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	require.Equal(t, http.StatusOK, status(t, c, ts.URL+"/counter/"))

	rows := func(name string) int {
		rec := httptest.NewRecorder()
		pages[name].ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		return strings.Count(rec.Body.String(), `<tr class="session">`)
	}
	assert.Equal(t, 1, rows("counter"))
	assert.Equal(t, 0, rows("hello"))
}
