package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/examples/internal/webtest"
)

// The progress example works mounted at /progress/: the page's relative
// start and _progress_status/work reach its server, with its cookie.
func TestProgressInTheTour(t *testing.T) {
	// The example's own flags, under its name.
	list := examples(t)
	fs := flag.NewFlagSet("tour", flag.ContinueOnError)
	list.flags(fs)
	require.NoError(t, fs.Parse([]string{"-progress.steps", "5", "-progress.step=1ms"}))
	tr, err := newTour(testConfig, list)
	require.NoError(t, err)
	ts := webtest.Serve(t, tr, tr)
	b := webtest.NewBrowser(t, ts)
	page := b.Get(ts.URL + "/progress/")
	assert.Contains(t, page, `id="bar"`)

	c := &http.Client{Jar: b.Jar, Transport: ts.Client().Transport}
	resp, err := c.Get(ts.URL + "/progress/start")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, `{"started":true}`+"\n", line)
	defer resp.Body.Close()

	var m struct {
		Count      int  `json:"count"`
		Total      int  `json:"total"`
		InProgress bool `json:"in_progress"`
	}
	for since := -1; ; since = m.Count {
		resp, err := c.Get(ts.URL + "/progress/_progress_status/work?wait=5&since=" + strconv.Itoa(since))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		resp.Body.Close()
		if !m.InProgress {
			break
		}
	}
	assert.Equal(t, 5, m.Count)
	assert.Equal(t, 5, m.Total)
	io.Copy(io.Discard, resp.Body)

	// The meter belongs to the progress example's session only.
	assert.Equal(t, http.StatusNotFound, status(t, c, ts.URL+"/counter/_progress_status/work"))
}
