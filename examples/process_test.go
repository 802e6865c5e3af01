// Package examples_test runs every example program as a real process: it
// builds each one (every examples/NAME with a main.go, found afresh each
// run), starts it on a free port, and again on a FastCGI socket, makes a
// request, and checks that SIGTERM (or SIGINT) shuts it down with exit
// status 0.
package examples_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/internal/fcgitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// programs lists the example programs: the directories with a main.go,
// so that a new example is covered as soon as it exists.
func programs(t *testing.T) []string {
	t.Helper()
	mains, err := filepath.Glob("*/main.go")
	require.NoError(t, err)
	var names []string
	for _, m := range mains {
		names = append(names, filepath.Dir(m))
	}
	require.Contains(t, names, "tour")
	return names
}

// build builds every program once into a temporary directory.
func build(t *testing.T, names []string) string {
	t.Helper()
	gobin, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	require.NoError(t, err)
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./"+n)
	}
	out, err := exec.Command(gobin, args...).CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return dir
}

// output collects a process's stdout and signals its first line.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	line  chan string
	fired bool
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if !o.fired {
		if line, _, ok := strings.Cut(o.buf.String(), "\n"); ok {
			o.fired = true
			o.line <- line
		}
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

var (
	listening   = regexp.MustCompile(`^listening on (http://127\.0\.0\.1:[1-9][0-9]*/)$`)
	servingFCGI = regexp.MustCompile(`^serving FastCGI on unix:(/.+)$`)
)

func TestPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every example program")
	}
	if runtime.GOOS == "windows" {
		t.Skip("sends Unix signals")
	}
	names := programs(t)
	dir := build(t, names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			run(t, filepath.Join(dir, name), syscall.SIGTERM)
		})
		t.Run(name+"/FastCGI", func(t *testing.T) {
			runFCGI(t, filepath.Join(dir, name))
		})
	}
	t.Run("counter/SIGINT", func(t *testing.T) {
		run(t, filepath.Join(dir, "counter"), os.Interrupt)
	})
}

// run starts the program on a free port, requests its first page (which
// starts a session, so shutdown has one to end), signals it and expects
// exit status 0 within a few seconds.
func run(t *testing.T, bin string, sig os.Signal) {
	p := launch(t, bin, "-addr", "127.0.0.1:0", "-idle", "1m", "-max-sessions", "10")
	m := listening.FindStringSubmatch(p.line)
	require.NotNil(t, m, "first line %q", p.line)
	url := m[1]

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	checkFirstPage(t, c, url)
	resp, err := c.Get(url + "no/such/file.css")
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	stop(t, p, sig)
}

// runFCGI starts the program serving FastCGI on a Unix socket, requests
// its first page through it, and expects SIGTERM to end it with status 0
// and the socket removed.
func runFCGI(t *testing.T, bin string) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	p := launch(t, bin, "-fcgi", "unix:"+sock, "-idle", "1m", "-max-sessions", "10")
	m := servingFCGI.FindStringSubmatch(p.line)
	require.NotNil(t, m, "first line %q", p.line)
	require.Equal(t, sock, m[1])
	checkFirstPage(t, &http.Client{Transport: &fcgitest.Transport{Network: "unix", Addr: sock}, Timeout: 10 * time.Second}, "http://127.0.0.1/")
	stop(t, p, syscall.SIGTERM)
	_, err := os.Stat(sock)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket file is removed")
}

// checkFirstPage gets url and expects 200 and an HTML page's title. It
// reads no further than the title, so that an example that streams its
// page need not finish it.
func checkFirstPage(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, url)
	head, err := readUntil(resp.Body, "</title>", 64<<10)
	assert.NoError(t, err, "%s: %q", url, head)
	assert.Contains(t, head, "<title>", url)
}

// readUntil reads r until what it read holds end, or max bytes.
func readUntil(r io.Reader, end string, max int) (string, error) {
	var b []byte
	buf := make([]byte, 4096)
	for len(b) < max && !strings.Contains(string(b), end) {
		n, err := r.Read(buf)
		b = append(b, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return string(b), err
		}
	}
	return string(b), nil
}

// stop signals the program and expects it to exit with status 0 within
// 10s, having printed one line.
func stop(t *testing.T, p *program, sig os.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	select {
	case <-p.exited:
		require.NoError(t, p.waitErr, "exit after %v; stderr: %s", sig, p.stderr.String())
		assert.Equal(t, 0, p.cmd.ProcessState.ExitCode())
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after %v", sig)
	}
	assert.Equal(t, 1, strings.Count(p.stdout.String(), "\n"), "stdout: %q", p.stdout.String())
}

// program is an example running as a process.
type program struct {
	cmd     *exec.Cmd
	line    string // the first it printed: where it listens
	url     string // from a "listening on URL" line
	stdout  *output
	stderr  *output
	exited  chan struct{} // closed when Wait has returned waitErr
	waitErr error
}

// launch starts bin with args, waits for the line that says where it
// listens, and kills it at the end of the test if it is still running.
func launch(t *testing.T, bin string, args ...string) *program {
	t.Helper()
	p := &program{
		cmd:    exec.Command(bin, args...),
		stdout: &output{line: make(chan string, 1)},
		stderr: &output{line: make(chan string, 1)},
		exited: make(chan struct{}),
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.line = <-p.stdout.line:
		if m := listening.FindStringSubmatch(p.line); m != nil {
			p.url = m[1]
		}
	case <-p.exited:
		t.Fatalf("exited before listening: %v\nstderr: %s", p.waitErr, p.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("printed no URL in 10s")
	}
	return p
}
