package main

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/continuity-go/continuity/bench/internal/proc"
)

// server is a running example process.
type server struct {
	*proc.Process
	log *logWatch
}

// startServer runs bin with args (which set -addr) and returns it and the
// URL it printed, without the trailing slash.
func startServer(bin string, args []string) (*server, string, error) {
	cmd := exec.Command(bin, args...)
	lw := newLogWatch()
	cmd.Stderr = lw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p, url, err := proc.StartListening(cmd, bin, lw.tailString)
	if err != nil {
		return nil, "", err
	}
	return &server{Process: p, log: lw}, url, nil
}

// stop shuts the server down (SIGTERM: graceful, which flushes its log
// summaries) and waits for it.
func (s *server) stop() { s.Stop(20 * time.Second) }

// rssWatch samples a server's RSS until stopped.
type rssWatch struct {
	mu      sync.Mutex
	samples []rssSample
	stopped chan struct{}
	done    chan struct{}
}

type rssSample struct {
	at  time.Time
	rss int64
}

func watchRSS(s *server, every time.Duration) *rssWatch {
	w := &rssWatch{stopped: make(chan struct{}), done: make(chan struct{})}
	w.sample(s)
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.stopped:
				return
			case <-t.C:
				w.sample(s)
			}
		}
	}()
	return w
}

func (w *rssWatch) sample(s *server) {
	v, err := s.RSS()
	if err != nil {
		return
	}
	w.mu.Lock()
	w.samples = append(w.samples, rssSample{time.Now(), v})
	w.mu.Unlock()
}

// last is the latest sample.
func (w *rssWatch) last() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.samples) == 0 {
		return 0
	}
	return w.samples[len(w.samples)-1].rss
}

// peak is the highest sample taken since from.
func (w *rssWatch) peak(from time.Time) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var p int64
	for _, s := range w.samples {
		if !s.at.Before(from) {
			p = max(p, s.rss)
		}
	}
	return p
}

func (w *rssWatch) stop() {
	close(w.stopped)
	<-w.done
}

// logWatch is a server's stderr: it counts bytes and lines, tallies the
// session ends the examples log ("session ended" with a reason, one per
// line or summarised as "repeated=N"), and keeps a tail for errors.
type logWatch struct {
	mu      sync.Mutex
	bytes   int64
	lines   int64
	partial []byte
	ends    map[string]int64
	tail    []byte
}

func newLogWatch() *logWatch { return &logWatch{ends: make(map[string]int64)} }

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes += int64(len(p))
	l.tail = append(l.tail, p...)
	if over := len(l.tail) - 4<<10; over > 0 {
		l.tail = append(l.tail[:0], l.tail[over:]...)
	}
	buf := append(l.partial, p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		l.lines++
		if reason, n, ok := sessionEnd(buf[:i]); ok {
			l.ends[reason] += n
		}
		buf = buf[i+1:]
	}
	if len(buf) > 64<<10 { // a line that long is not a session's end
		buf = buf[:0]
	}
	l.partial = append(l.partial[:0], buf...)
	return len(p), nil
}

// counts returns the bytes and lines written so far.
func (l *logWatch) counts() (bytes, lines int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes, l.lines
}

// sessionEnds returns the session ends logged so far, by reason.
func (l *logWatch) sessionEnds() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int64, len(l.ends))
	for k, v := range l.ends {
		m[k] = v
	}
	return m
}

func (l *logWatch) tailString() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.tail)
}

// endReasons shortens the session end reasons continuity logs.
var endReasons = map[string]string{
	"continuity: session finished":                   "finished",
	"continuity: session idle timeout":               "idle",
	"continuity: session lifetime exceeded":          "lifetime",
	"continuity: session evicted at the session cap": "evicted",
	"continuity: server shutdown":                    "shutdown",
	"continuity: session panicked":                   "panicked",
	"continuity: session did not answer in time":     "unresponsive",
}

// sessionEnd parses a slog text line `... msg="session ended" ...
// reason="…" [repeated=N ...]`: the reason and how many ends the line
// stands for.
func sessionEnd(line []byte) (reason string, n int64, ok bool) {
	s := string(line)
	if !strings.Contains(s, `msg="session ended"`) {
		return "", 0, false
	}
	reason = "?"
	if _, r, found := strings.Cut(s, " reason="); found {
		if q, err := strconv.QuotedPrefix(r); err == nil {
			reason, _ = strconv.Unquote(q)
		} else {
			reason, _, _ = strings.Cut(r, " ")
		}
	}
	if short, known := endReasons[reason]; known {
		reason = short
	}
	n = 1
	if _, r, found := strings.Cut(s, " repeated="); found {
		v, _, _ := strings.Cut(r, " ")
		// A summary counts the records left out; the ones written in
		// full were counted line by line.
		if k, err := strconv.ParseInt(v, 10, 64); err == nil {
			n = k
		}
	}
	return reason, n, true
}
