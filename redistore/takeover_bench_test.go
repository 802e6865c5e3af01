package redistore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/redistore"
)

// BenchmarkTakeover is what a node pays to take a session over from the
// Redis journal when the node that ran it drained (its lease was
// released, so nothing is waited out): Load, Acquire, Load again, replay
// the flow through its steps, and answer the next step, as one request
// over HTTP on loopback. Each op is one session of counterFlow, driven to
// steps=N on node A, which is then drained; the op is that session's next
// request, sent to node B. held is the baseline in the same run: the same
// request, for a session at the same step, answered by the node that
// holds it (an ordinary step, with its Redis append). takeover minus held
// is the takeover's own cost. A killed node's sessions wait out the lease
// TTL besides; bench/nodes measures that with real processes.
//
//	go test -run '^$' -bench Takeover -benchtime 200x -count 3 ./redistore/
func BenchmarkTakeover(b *testing.B) {
	for _, steps := range []int{10, 100} {
		b.Run(fmt.Sprintf("steps=%d", steps), func(b *testing.B) {
			b.Run("held", func(b *testing.B) { benchNextStep(b, steps, false) })
			b.Run("takeover", func(b *testing.B) { benchNextStep(b, steps, true) })
		})
	}
}

// benchNextStep times the next request of b.N sessions that node A drove
// to the given step: on A itself, or, with takeover, on node B after A
// drained.
func benchNextStep(b *testing.B, steps int, takeover bool) {
	rs := redistest.Start(b, redistest.Options{})
	a := benchNode(b, rs.URL(), "a")
	next := a
	if takeover {
		next = benchNode(b, rs.URL(), "b")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	b.Cleanup(tr.CloseIdleConnections)
	browsers := make([]*http.Client, b.N)
	for i := range browsers {
		jar, err := cookiejar.New(nil)
		require.NoError(b, err)
		// One jar per browser: both nodes are 127.0.0.1, as behind one
		// balancer, so B sees the session cookie A set.
		browsers[i] = &http.Client{Jar: jar, Transport: tr, Timeout: 20 * time.Second}
	}

	// Drive every session to its step, from a few browsers at once.
	var (
		claimed atomic.Int64
		wg      sync.WaitGroup
		errs    = make([]error, 8)
	)
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(claimed.Add(1)) - 1
				if i >= len(browsers) {
					return
				}
				for n := 1; n <= steps; n++ {
					if err := wantStep(browsers[i], a.web.URL, n); err != nil {
						errs[w] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(b, err)
	}
	if takeover {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(b, a.srv.Drain(ctx), "A hands its sessions off, releasing their leases")
	}

	b.ResetTimer()
	for _, c := range browsers {
		if err := wantStep(c, next.web.URL, steps+1); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}

// benchNode is a node of the benchmark on the redis-server at url: a
// server with a Redis journal of default options, on a client of its own.
func benchNode(b *testing.B, url, name string) *ctNode {
	opt, err := redis.ParseURL(url)
	require.NoError(b, err)
	rdb := redis.NewClient(opt)
	store, err := redistore.NewJournalStore(rdb, redistore.JournalOptions{})
	require.NoError(b, err)
	keys, err := continuity.ReadKeys(strings.NewReader("6f1d0c5e9b7a4d2e8c3f1a0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e\n"))
	require.NoError(b, err)
	srv, err := continuity.New(counterFlow, &continuity.Options{Keys: keys, Journal: store, Node: name})
	require.NoError(b, err)
	n := &ctNode{srv: srv, rdb: rdb, web: httptest.NewServer(srv)}
	b.Cleanup(n.stop)
	return n
}

// wantStep asks for the next page and checks that it is step n.
func wantStep(c *http.Client, url string, n int) error {
	res, err := c.Get(url + "/")
	if err != nil {
		return err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("<p>step %d</p>", n); res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("want %s, got %d %.200q", want, res.StatusCode, body)
	}
	return nil
}
