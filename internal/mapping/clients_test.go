package mapping

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/handoff"
)

func TestClientBoundsDefaults(t *testing.T) {
	tests := []struct {
		max, live, busy    int
		wantLive, wantBusy int
		why                string
	}{
		{defaultMaxSessions, 0, 0, 1250, 625, "shares of the default table"},
		{100, 0, 0, 64, 32, "floors for a small table"},
		{10, 0, 0, 10, 10, "a tiny table is not carved up"},
		{1000, 5, 3, 5, 3, "explicit values"},
		{1000, -1, -1, 0, 0, "negative: no bound"},
	}
	for _, tc := range tests {
		live, busy := clientBounds(tc.max, tc.live, tc.busy)
		assert.Equal(t, tc.wantLive, live, tc.why)
		assert.Equal(t, tc.wantBusy, busy, tc.why)
	}
}

func from(addr string) *http.Request {
	r := get("/")
	r.RemoteAddr = addr
	return r
}

// TestClientShareIsPerAddressOrIPv6Slash64: the addresses of one IPv6 /64
// share a client's bound; loopback is not bounded.
func TestClientShareIsPerAddressOrIPv6Slash64(t *testing.T) {
	m := newMapper(t, Config{MaxSessions: 100, MaxSessionsPerClient: 2})
	a, _, err := m.Session(from("[2001:db8::1]:1000"))
	require.NoError(t, err)
	b, _, err := m.Session(from("[2001:db8::2]:1000"))
	require.NoError(t, err)
	c, _, err := m.Session(from("[2001:db8::3]:1000"))
	require.NoError(t, err)
	require.Eventually(t, ended(a), waitMax, tick)
	assert.ErrorIs(t, context.Cause(a.Context()), handoff.EndEvicted)
	assert.True(t, alive(b) && alive(c))
	_, _, err = m.Session(from("[2001:db8:0:1::1]:1000"))
	require.NoError(t, err, "another /64 is another client")
	for range 5 {
		_, _, err = m.Session(from("127.0.0.1:1000"))
		require.NoError(t, err)
	}
	assert.Equal(t, 8, m.Len())
	assert.Equal(t, uint64(1), m.Stats().Evicted)
}

// TestClientRefusalIsRememberedBriefly: once refused, a client is refused
// again without a look at its sessions for a second, then looked at anew.
func TestClientRefusalIsRememberedBriefly(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		hold := make(chan struct{})
		app := func(r *handoff.Handle) {
			<-hold
			fmt.Fprint(r, "done")
			r.Next()
		}
		m := newMapper(t, Config{MaxBusyPerClient: 1, Session: handoff.Options{App: app}})
		s, _, err := m.Session(get("/"))
		require.NoError(t, err)
		served := make(chan string)
		go func() { served <- serveBubbled(t, s, get("/")) }()
		synctest.Wait()
		require.True(t, s.Busy())
		_, _, err = m.Session(get("/"))
		assert.ErrorIs(t, err, ErrClientLimit)

		close(hold)
		assert.Equal(t, "done", <-served)
		_, _, err = m.Session(get("/"))
		assert.ErrorIs(t, err, ErrClientLimit, "refused again within the second")
		time.Sleep(clientRefusal)
		_, _, err = m.Session(get("/"))
		assert.NoError(t, err)
		assert.Equal(t, uint64(2), m.Stats().ClientRefused)
	})
}
