package load

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the figures of a measured stretch of load.
type Stats struct {
	Requests int // steps that succeeded while measuring
	Errors   int
	FirstErr error
	Elapsed  time.Duration
	Lat      []time.Duration // of the steps that succeeded, sorted
}

// Rate is the requests per second.
func (s Stats) Rate() float64 { return float64(s.Requests) / s.Elapsed.Seconds() }

// Pct is the p-th percentile latency (nearest rank), or 0 without any.
func (s Stats) Pct(p float64) time.Duration {
	if len(s.Lat) == 0 {
		return 0
	}
	i := int(float64(len(s.Lat))*p/100+0.5) - 1
	return s.Lat[min(max(i, 0), len(s.Lat)-1)]
}

// Add adds o's figures to s's, as if one stretch: its first error is
// kept, and Lat stays sorted.
func (s *Stats) Add(o Stats) {
	s.Requests += o.Requests
	s.Errors += o.Errors
	if s.FirstErr == nil {
		s.FirstErr = o.FirstErr
	}
	s.Elapsed += o.Elapsed
	s.Lat = append(s.Lat, o.Lat...)
	slices.Sort(s.Lat)
}

// The phases of a Run.
const (
	warming = iota
	measuring
	stopping
)

// A Run is browsers stepping in a loop, each on a goroutine and a
// connection of its own, as fast as the server answers: first warming up
// (their steps not counted), then, from Measure to Stop, measured.
type Run struct {
	phase   atomic.Int32
	wg      sync.WaitGroup
	clients []clientStats

	mu      sync.Mutex // for Measure and Stop, which may be called from any goroutine
	t0      time.Time
	elapsed time.Duration
}

type clientStats struct {
	lat      []time.Duration
	errors   int
	firstErr error
}

// maxFailures is how many steps in a row a browser may fail before it
// gives up: the server is gone, and the first error says why.
const maxFailures = 100

// Start starts one client per browser, stepping it with cl. The browsers
// must not be used elsewhere until Wait or Close has returned.
func Start(cl *Client, browsers []Browser) *Run {
	r := &Run{clients: make([]clientStats, len(browsers))}
	for i := range browsers {
		r.wg.Go(func() {
			b, res := &browsers[i], &r.clients[i]
			res.lat = make([]time.Duration, 0, 4096)
			var c *Conn
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			failures := 0
			for r.phase.Load() != stopping {
				t0 := time.Now()
				var err error
				c, err = cl.Step(b, c)
				elapsed := time.Since(t0)
				if r.phase.Load() != measuring {
					continue
				}
				if err != nil {
					res.errors++
					if res.firstErr == nil {
						res.firstErr = err
					}
					if failures++; failures > maxFailures {
						return
					}
					continue
				}
				failures = 0
				res.lat = append(res.lat, elapsed)
			}
		})
	}
	return r
}

// Measure ends the warm-up: the steps from now on are measured.
func (r *Run) Measure() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t0 = time.Now()
	r.phase.Store(measuring)
}

// Stop ends the measured stretch: each client stops after the step it is
// taking. It does not wait for them; Wait does.
func (r *Run) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.phase.Swap(stopping) == measuring {
		r.elapsed = time.Since(r.t0)
	}
}

// Wait waits until every client has stopped (after Stop, or after too
// many failures) and returns the measured stretch's figures.
func (r *Run) Wait() Stats {
	r.wg.Wait()
	r.mu.Lock()
	s := Stats{Elapsed: r.elapsed}
	r.mu.Unlock()
	for _, c := range r.clients {
		s.Requests += len(c.lat)
		s.Lat = append(s.Lat, c.lat...)
		s.Errors += c.errors
		if s.FirstErr == nil {
			s.FirstErr = c.firstErr
		}
	}
	slices.Sort(s.Lat)
	return s
}

// Close stops the run and waits for its clients: for the paths that end
// it early.
func (r *Run) Close() {
	r.Stop()
	r.wg.Wait()
}

// Dur prints a duration with three significant digits.
func Dur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.3gs", d.Seconds())
}
