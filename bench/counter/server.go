package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/adapter"
	"github.com/continuity-go/continuity/internal/barecounter"
)

// The page both servers print: the counter example's page
// (examples/internal/apps.Counter), formatted the same way, in two passes.
const (
	pageFormat = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>%[1]s</h1>
%s
</body>
</html>
`
	bodyFormat = `<p>You have loaded this page <span id="count">%d</span> time(s).</p>
<p><a href="?">Count again</a></p>`
)

func writePage(w io.Writer, n int) {
	fmt.Fprintf(w, pageFormat, html.EscapeString("Counter"), fmt.Sprintf(bodyFormat, n))
}

// counterApp is the counter example's application: the count is a local
// variable of the session goroutine.
func counterApp(r *continuity.Request) {
	for n := 1; ; n++ {
		writePage(r, n)
		r.Next()
	}
}

// serve is the child process: it serves kind on a loopback port, and a
// debug endpoint (stats, GC, profiles) on another, prints both addresses
// on stdout, and exits when its stdin closes (the parent is gone) or it
// is signalled.
func serve(kind string, maxSessions int, profileRates bool) error {
	if profileRates {
		runtime.SetMutexProfileFraction(5)
		runtime.SetBlockProfileRate(int((10 * time.Microsecond).Nanoseconds()))
	}
	var (
		h    http.Handler
		live func() int
		stop func()
	)
	switch kind {
	case "continuity":
		srv, err := continuity.New(counterApp, &continuity.Options{
			MaxSessions: maxSessions,
			IdleTimeout: time.Hour, // parked sessions must stay for the memory run
		})
		if err != nil {
			return err
		}
		h = srv
		live = func() int { return srv.Metrics().LiveSessions }
		stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		}
	case "bare":
		b := barecounter.New(writePage)
		h, live, stop = b, b.Live, func() {}
	case "floor":
		p := barecounter.NewParked(writePage)
		h, live, stop = p, p.Live, p.Close
	default:
		return fmt.Errorf("unknown server %q", kind)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	dl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// Both servers get the same hardened net/http server (continuity's
	// ListenAndServe uses it too), so that only the handlers differ.
	hs := adapter.NewServer(l.Addr().String(), h, adapter.Config{})
	ds := &http.Server{Handler: debugMux(live), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(l)
	go ds.Serve(dl)
	fmt.Printf("%s %s\n", l.Addr(), dl.Addr())
	io.Copy(io.Discard, bufio.NewReader(os.Stdin)) // until the parent goes
	hs.Close()
	ds.Close()
	stop()
	return nil
}

// stats is what the debug endpoint reports.
type stats struct {
	Live       int     `json:"live"`
	Goroutines int     `json:"goroutines"`
	HeapInuse  uint64  `json:"heap_inuse"`
	HeapAlloc  uint64  `json:"heap_alloc"` // live objects, right after a GC
	StackInuse uint64  `json:"stack_inuse"`
	NumGC      uint32  `json:"num_gc"`
	GCCPU      float64 `json:"gc_cpu_seconds"`    // runtime/metrics estimate
	TotalCPU   float64 `json:"total_cpu_seconds"` // runtime/metrics estimate
	StackStart uint64  `json:"stack_start"`       // new goroutines' stack size
}

func readStats(live func() int) stats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/gc/stack/starting-size:bytes"}}
	metrics.Read(s)
	return stats{
		Live:       live(),
		Goroutines: runtime.NumGoroutine(),
		HeapInuse:  ms.HeapInuse,
		HeapAlloc:  ms.HeapAlloc,
		StackInuse: ms.StackInuse,
		NumGC:      ms.NumGC,
		GCCPU:      s[0].Value.Float64(),
		TotalCPU:   s[1].Value.Float64(),
		StackStart: s[2].Value.Uint64(),
	}
}

// debugMux serves /stats, /gc (collect and return memory to the OS) and
// /prof/{start,stop,write} (profiles written to files the parent names).
func debugMux(live func() int) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(readStats(live))
	})
	mux.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		io.WriteString(w, "ok\n")
	})
	var cpuFile *os.File
	var mu sync.Mutex
	mux.HandleFunc("/prof/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if cpuFile != nil {
			http.Error(w, "already profiling", http.StatusConflict)
			return
		}
		f, err := os.Create(r.FormValue("file"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		cpuFile = f
	})
	mux.HandleFunc("/prof/stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if cpuFile == nil {
			http.Error(w, "not profiling", http.StatusConflict)
			return
		}
		pprof.StopCPUProfile()
		err := cpuFile.Close()
		cpuFile = nil
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/prof/write", func(w http.ResponseWriter, r *http.Request) {
		p := pprof.Lookup(r.FormValue("name"))
		if p == nil {
			http.Error(w, "no such profile", http.StatusNotFound)
			return
		}
		if r.FormValue("name") == "heap" {
			runtime.GC()
		}
		f, err := os.Create(r.FormValue("file"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		err = errors.Join(p.WriteTo(f, 0), f.Close())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}
