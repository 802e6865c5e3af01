package continuity_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// streamingCounter counts requests; /events holds its request open,
// streaming, until the client goes: the session stays busy.
func streamingCounter(r *continuity.Request) {
	for i := 1; ; i++ {
		if r.Path() == "/events" {
			r.Print("event\n")
			r.Flush()
			<-r.RequestContext().Done()
		} else {
			r.Printf("%d", i)
		}
		r.Next()
	}
}

var behindLoopbackProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// TestOneClientsBusyStreamsCannotLockOthersOut: one address opens many
// cookie-less streams, each a session its app keeps busy. It is refused
// (429, Retry-After) past its share instead of filling the table and
// evicting others: a new client still gets in and an established user
// keeps its session.
func TestOneClientsBusyStreamsCannotLockOthersOut(t *testing.T) {
	const attacker, user, newcomer = "198.51.100.66", "203.0.113.50", "203.0.113.77"
	srv, ts := start(t, streamingCounter, &continuity.Options{
		MaxSessions:          16,
		MaxSessionsPerClient: 8,
		MaxBusyPerClient:     4,
		TrustedProxies:       behindLoopbackProxy,
		Logger:               quietLogger(),
	})
	u := browser(t)
	for want := 1; want <= 5; want++ {
		_, body := fetchAs(t, u, ts.URL+"/", user)
		require.Equal(t, fmt.Sprint(want), body)
	}

	ctx, stopStreams := context.WithCancel(context.Background())
	var streams sync.WaitGroup
	defer streams.Wait()
	defer stopStreams()
	streaming, refused := 0, 0
	for range 24 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/events", nil)
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-For", attacker)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		if resp.StatusCode == http.StatusOK {
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "event\n", line)
			streaming++
			streams.Go(func() {
				io.Copy(io.Discard, resp.Body) // held until stopStreams
				resp.Body.Close()
			})
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(b))
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		assert.Contains(t, string(b), "too many sessions from this client")
		refused++
	}
	assert.Equal(t, 4, streaming, "the attacker's busy share")
	assert.Equal(t, 20, refused)

	code, body := fetchAs(t, browser(t), ts.URL+"/", newcomer)
	assert.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "1", body, "a new client still gets in")
	_, body = fetchAs(t, u, ts.URL+"/", user)
	assert.Equal(t, "6", body, "the established user keeps its session")
	assert.Zero(t, srv.Metrics().SessionsEvicted, "nobody was evicted for the attacker")
}

// TestOneClientIsBoundedInLiveSessions: past its live share a client
// displaces its own least recently used idle session, never another
// client's.
func TestOneClientIsBoundedInLiveSessions(t *testing.T) {
	const flood, user = "198.51.100.66", "203.0.113.50"
	srv, ts := start(t, counter, &continuity.Options{
		MaxSessions:          16,
		MaxSessionsPerClient: 4,
		TrustedProxies:       behindLoopbackProxy,
		Logger:               quietLogger(),
	})
	u := browser(t)
	for want := 1; want <= 2; want++ {
		_, body := fetchAs(t, u, ts.URL+"/", user)
		require.Equal(t, fmt.Sprint(want), body)
	}
	for range 40 {
		code, _ := fetchAs(t, browser(t), ts.URL+"/", flood)
		require.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, 5, srv.Metrics().LiveSessions, "the flood holds its share, the user one")
	_, body := fetchAs(t, u, ts.URL+"/", user)
	assert.Equal(t, "3", body)
}

// TestReturningBotsDoNotEvictAnEstablishedUser: bots that come back once
// with their cookie pass the one-request eviction protection; at the cap
// the heaviest client must evict itself, not a user of another address.
func TestReturningBotsDoNotEvictAnEstablishedUser(t *testing.T) {
	const bots, user = "198.51.100.66", "203.0.113.50"
	srv, ts := start(t, counter, &continuity.Options{
		MaxSessions:          10,
		MaxSessionsPerClient: 10, // the share alone would not stop them here
		TrustedProxies:       behindLoopbackProxy,
		Logger:               quietLogger(),
	})
	u := browser(t)
	for want := 1; want <= 5; want++ {
		_, body := fetchAs(t, u, ts.URL+"/", user)
		require.Equal(t, fmt.Sprint(want), body)
	}
	for range 60 {
		b := browser(t)
		for want := 1; want <= 2; want++ {
			code, body := fetchAs(t, b, ts.URL+"/", bots)
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, fmt.Sprint(want), body)
		}
	}
	assert.Positive(t, srv.Metrics().SessionsEvicted)
	_, body := fetchAs(t, u, ts.URL+"/", user)
	assert.Equal(t, "6", body, "the established user was evicted")
}
