package continuity_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// TestBusySessionRefusesABodyUnread: a POST that the session's queue
// bounds refuse is refused before its body is read, so that a flood of
// large POSTs at busy sessions costs the server no reading and parsing.
// Here the body never comes: the answer must not wait for it.
func TestBusySessionRefusesABodyUnread(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts continuity.Options
		fill int // requests queued behind the busy one first
	}{
		{"queue full", continuity.Options{QueueDepth: 1}, 1},
		{"queued bytes", continuity.Options{MaxQueuedBytes: 100}, 1},
		{"total bytes", continuity.Options{MaxQueuedBytesTotal: 100}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			defer free() // the app ends its busy step before the server stops
			app := func(r *continuity.Request) {
				r.Print("first")
				r.Next()
				<-release // busy with the second request
				for {
					r.Print("ok")
					r.Next()
				}
			}
			tc.opts.Logger = quietLogger()
			srv, ts := start(t, app, &tc.opts)
			at := func(path string) func() bool { // the session's last delivered request is path
				return func() bool {
					l := srv.Inspect()
					return len(l) == 1 && l[0].Path == path
				}
			}
			c := browser(t)
			resp, err := c.Get(ts.URL + "/")
			require.NoError(t, err)
			resp.Body.Close()
			cookie := resp.Header.Get("Set-Cookie")
			cookie, _, _ = strings.Cut(cookie, ";")

			busy := make(chan error, 1)
			go func() { // taken, and held by the app
				resp, err := c.Get(ts.URL + "/busy")
				if err == nil {
					resp.Body.Close()
				}
				busy <- err
			}()
			queued := make(chan error, tc.fill)
			require.Eventually(t, at("/busy"), 5*time.Second, time.Millisecond)
			for range tc.fill {
				go func() {
					resp, err := c.Post(ts.URL+"/q", "application/x-www-form-urlencoded", strings.NewReader("a="+strings.Repeat("x", 60)))
					if err == nil {
						resp.Body.Close()
					}
					queued <- err
				}()
			}
			require.Eventually(t, at("/q"), 5*time.Second, time.Millisecond, "the fillers are queued")

			conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
			require.NoError(t, err)
			defer conn.Close()
			fmt.Fprintf(conn, "POST /big HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500000\r\n\r\n", cookie)
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err, "answered without the body")
			res.Body.Close()
			assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
			assert.True(t, res.Close, "the unread body ends the connection")

			free()
			require.NoError(t, <-busy)
			for range tc.fill {
				require.NoError(t, <-queued)
			}
		})
	}
}
