package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/continuity-go/continuity/bench/internal/load"
)

// runSessions parks cfg.sessions sessions in a fresh server of each kind,
// for each mode, and reports memory per session and the creation rate;
// then, with them parked, the keep-alive step.
func (cfg *config) runSessions(modes, kinds []string) error {
	n := cfg.sessions
	fmt.Printf("parking %d sessions from %d clients; RSS per session is the growth of VmRSS over the idle server, divided by %d\n",
		n, cfg.creators, n)
	for _, mode := range modes {
		fmt.Printf("\n%s\n", modeName(mode))
		fmt.Printf("  %-11s %10s %9s %9s %10s %10s %10s %10s %10s\n", "server", "created/s", "CPU/new", "errors",
			"RSS/sess", "settled", "heap/sess", "live/sess", "stack/sess")
		var rates []float64
		for _, kind := range kinds {
			r, err := cfg.park(kind, n, mode == "ka")
			if err != nil {
				return err
			}
			rates = append(rates, r)
		}
		if b := slices.Index(kinds, "bare"); b >= 0 {
			for i, k := range kinds {
				if i != b {
					fmt.Printf("  %-11s %9.2f×\n", ratioName(k), rates[i]/rates[b])
				}
			}
		}
	}
	return nil
}

// park creates n sessions in a fresh server of kind and prints a line of
// figures, then the step under load if asked. It returns the creation
// rate.
func (cfg *config) park(kind string, n int, keepAlive bool) (float64, error) {
	s, err := start(kind, n+cfg.stepClients+1000, cfg.profile != "")
	if err != nil {
		return 0, err
	}
	defer s.stop()
	if err := s.gc(); err != nil {
		return 0, err
	}
	time.Sleep(200 * time.Millisecond)
	rss0, err := s.p.RSS()
	if err != nil {
		return 0, err
	}
	st0, err := s.stats()
	if err != nil {
		return 0, err
	}
	prof := ""
	if cfg.profile != "" {
		m := "conn"
		if keepAlive {
			m = "ka"
		}
		prof = filepath.Join(cfg.profile, fmt.Sprintf("%s-create-%s", kind, m))
		if err := s.startCPUProfile(prof); err != nil {
			return 0, err
		}
	}
	cpu0, err := s.p.CPU()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	created, errs, firstErr := createSessions(s.addr, n, cfg.creators, keepAlive)
	elapsed := time.Since(t0)
	cpu1, err := s.p.CPU()
	if err != nil {
		return 0, err
	}
	if prof != "" {
		if err := s.stopProfiles(prof); err != nil {
			return 0, err
		}
	}
	rssRaw, err := s.p.RSS()
	if err != nil {
		return 0, err
	}
	stc, err := s.stats() // before the GC below
	if err != nil {
		return 0, err
	}
	if err := s.gc(); err != nil {
		return 0, err
	}
	time.Sleep(500 * time.Millisecond)
	rssSettled, err := s.p.RSS()
	if err != nil {
		return 0, err
	}
	st1, err := s.stats()
	if err != nil {
		return 0, err
	}
	rate := float64(created) / elapsed.Seconds()
	per := func(a, b int64) string { return fmt.Sprintf("%.0f B", float64(a-b)/float64(n)) }
	fmt.Printf("  %-11s %10.0f %9s %9d %10s %10s %10s %10s %10s\n", kind, rate, load.Dur((cpu1-cpu0)/time.Duration(max(created, 1))),
		errs, per(rssRaw, rss0), per(rssSettled, rss0),
		per(int64(st1.HeapInuse), int64(st0.HeapInuse)), per(int64(st1.HeapAlloc), int64(st0.HeapAlloc)),
		per(int64(st1.StackInuse), int64(st0.StackInuse)))
	fmt.Printf("  %-11s %d live, %d goroutines (new ones start with %d B of stack), RSS %.1f MB idle, %.1f MB raw, %.1f MB settled; %d GCs, %.0f%% of the server's CPU\n", "",
		st1.Live, st1.Goroutines, st1.StackStart, mb(rss0), mb(rssRaw), mb(rssSettled),
		stc.NumGC-st0.NumGC, 100*gcShare(stc.GCCPU-st0.GCCPU, stc.TotalCPU-st0.TotalCPU))
	if firstErr != nil {
		fmt.Printf("  %-11s first error: %v\n", "", firstErr)
	}
	if created < n {
		return 0, fmt.Errorf("%s: created %d of %d sessions", kind, created, n)
	}
	if cfg.stepClients > 0 {
		m, err := s.load(cfg.stepClients, true, cfg.warmup, cfg.duration, "")
		if err != nil {
			return 0, err
		}
		share := gcShare(m.gcCPU, m.totalCPU)
		fmt.Printf("  %-11s step with %d parked, %d keep-alive clients: %.0f req/s, p50 %s, p99 %s, CPU/req %s, GC %.1f%% of CPU, %d errors\n",
			"", n, cfg.stepClients, m.Rate(), load.Dur(m.Pct(50)), load.Dur(m.Pct(99)), load.Dur(m.cpuPer()), 100*share, m.Errors)
		if m.FirstErr != nil {
			fmt.Printf("  %-11s first error: %v\n", "", m.FirstErr)
		}
	}
	return rate, nil
}

func mb(b int64) float64 { return float64(b) / 1e6 }

// createSessions makes n requests without a cookie from workers clients,
// each starting a session, and returns how many did, how many failed, and
// the first failure. Progress goes to stderr every 10 seconds.
func createSessions(addr string, n, workers int, keepAlive bool) (created, failed int, firstErr error) {
	var next, ok, bad atomic.Int64
	var once sync.Once
	cl := load.NewClient(addr, agent, keepAlive, 0)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "  ... %d sessions\n", ok.Load())
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var c *load.Conn
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			failures := 0
			for next.Add(1) <= int64(n) {
				var err error
				c, _, err = cl.NewSession(c)
				if err != nil {
					bad.Add(1)
					once.Do(func() { firstErr = err })
					if failures++; failures > 100 {
						return
					}
					continue
				}
				failures = 0
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	close(done)
	if firstErr == nil && ok.Load() < int64(n) {
		firstErr = errors.New("clients gave up")
	}
	return int(ok.Load()), int(bad.Load()), firstErr
}

// gcShare is the share of the CPU that garbage collection took. The
// runtime updates its CPU estimates at each collection, so with none
// both are 0.
func gcShare(gc, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return gc / total
}
