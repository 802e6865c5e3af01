package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/examples/internal/webtest"
)

// TestChatInTheTour: the chat works under /chat/ with its relative URLs,
// and its cookie stays there.
func TestChatInTheTour(t *testing.T) {
	_, ts := serveTour(t)
	b := webtest.NewBrowser(t, ts)
	page := b.Get(ts.URL + "/chat/")
	assert.Contains(t, page, `<form id="send" method="post" action="send">`)
	assert.Contains(t, page, `fetch('receive?since=' + since`)
	assert.Contains(t, page, `fetch('send'`)

	u, err := url.Parse(ts.URL + "/chat/")
	require.NoError(t, err)
	cookies := b.Jar.Cookies(u)
	require.Len(t, cookies, 1)
	assert.Empty(t, b.Jar.Cookies(&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/counter/"}), "the cookie is scoped to /chat/")

	c := &http.Client{Jar: b.Jar, Transport: ts.Client().Transport}
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/chat/send", strings.NewReader("name=tourist&message=hello+from+the+tour"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = c.Get(ts.URL + "/chat/receive?since=0")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var got struct {
		Messages []struct{ Name, Message string }
	}
	require.NoError(t, json.Unmarshal(body, &got), string(body))
	require.NotEmpty(t, got.Messages)
	last := got.Messages[len(got.Messages)-1]
	assert.Equal(t, "tourist", last.Name)
	assert.Equal(t, "hello from the tour", last.Message)
}
