// Package redistest runs a real redis-server for tests: Debian's package,
// on 127.0.0.1 and a free port, in a temporary directory, stopped when the
// test ends. Tests of the Redis-backed parts use it instead of a fake, so
// that what they check is what Redis does.
package redistest

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer its first PING.
const startTimeout = 15 * time.Second

// stopTimeout bounds how long a server may take to exit on SIGTERM before
// it is killed.
const stopTimeout = 10 * time.Second

// Options configure a [Server]. The zero value is an in-memory server: no
// snapshots, no append-only file.
type Options struct {
	// AppendOnly turns the append-only file on (appendonly yes), so that a
	// restarted server has the data of the one before.
	AppendOnly bool
	// AppendFsync is appendfsync when AppendOnly is set: "everysec" (the
	// default, Redis's own), "always" or "no".
	AppendFsync string
	// Args are more redis-server arguments, as "--name", "value" pairs.
	Args []string
}

// A Server is a redis-server process started by [Start].
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	opts Options

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *SyncBuffer
}

// Binary returns the path of redis-server: $REDIS_SERVER, or redis-server
// in PATH. Without one the test is skipped, except in CI (CI set), where
// .ci/run installs Debian's redis-server and its absence is a failure.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		return p
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no redis-server in PATH; .ci/run installs Debian's redis-server package")
	}
	t.Skip("no redis-server in PATH (set REDIS_SERVER, or apt-get install redis-server)")
	return ""
}

// Start starts a redis-server for the rest of the test and returns once it
// answers PING. It skips the test as [Binary] does.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir(), opts: o}
	var err error
	for range 3 { // another process may take the free port first
		if s.port, err = freePort(); err != nil {
			t.Fatalf("redistest: finding a free port: %v", err)
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the server's address as a redis:// URL, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Dir is the server's working directory, where its files are kept.
func (s *Server) Dir() string { return s.dir }

// Stop stops the server (SIGTERM, then SIGKILL if it does not exit in
// time) and waits for it to exit. It is safe to call more than once; the
// test's cleanup calls it.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill kills the server with SIGKILL, as a crash would, and waits for it
// to exit: what it had not written to its append-only file is lost.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Restart starts the server again, on the same port and directory, after
// [Server.Stop] or [Server.Kill] (it stops it first if it runs), and
// returns once it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restarting: %v", err)
	}
}

func (s *Server) start() error {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--daemonize", "no",
		"--logfile", "",
		"--databases", "4",
	}
	if s.opts.AppendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", cmp.Or(s.opts.AppendFsync, "everysec"))
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, s.opts.Args...)
	cmd := exec.Command(s.bin, args...)
	log := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done, s.log = cmd, done, log
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		if err := ping(s.Addr()); err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server exited at start:\n%s", log.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.signal(syscall.SIGKILL)
			return fmt.Errorf("redis-server did not answer within %v:\n%s", startTimeout, log.String())
		}
	}
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Log is what the server has written to its log so far, for a failing
// test to show.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// ping sends PING on a fresh connection and reports whether PONG came back.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New("unexpected reply " + strconv.Quote(line))
	}
	return nil
}

// freePort asks the kernel for a port free on 127.0.0.1 now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// A SyncBuffer is a bytes.Buffer safe for concurrent writes and reads: a
// process's output, or a logger's, read by the test as it runs.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
