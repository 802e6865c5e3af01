package examples_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/redistest"
)

// haproxyBinary is haproxy in PATH; without it the test is skipped,
// except in CI, where .ci/run installs Debian's package.
func haproxyBinary(t *testing.T) string {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no haproxy in PATH; .ci/run installs Debian's haproxy package")
	}
	t.Skip("no haproxy in PATH (apt-get install haproxy)")
	return ""
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startProc starts a process that is killed when the test ends.
func startProc(t *testing.T, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	log, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s %v:\n%s", name, args, b)
		}
	})
	return cmd
}

func waitListening(t *testing.T, addr string) {
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 20*time.Second, 20*time.Millisecond, "nothing listens on %s", addr)
}

var countRE = regexp.MustCompile(`<span id="count">(\d+)</span>`)

// TestCounterSurvivesANodeKilledBehindHAProxy: three nodes of the counter
// behind HAProxy (deploy/haproxy.cfg) on one redis-server; the node that
// serves a browser at step 5 is SIGKILLed; the browser's next request
// lands on another node, which shows step 6 once the dead node's lease
// (2s here) has lapsed.
func TestCounterSurvivesANodeKilledBehindHAProxy(t *testing.T) {
	haproxy := haproxyBinary(t)
	rs := redistest.Start(t, redistest.Options{})
	bin := build(t, []string{"counter"})
	keys := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(keys, []byte("6f1d0c5e9b7a4d2e8c3f1a0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e\n"), 0o600))

	nodes := map[string]*exec.Cmd{}
	env := []string{"LB_ADDR=" + freeAddr(t)}
	for i := 1; i <= 3; i++ {
		addr := freeAddr(t)
		name := fmt.Sprintf("n%d", i)
		nodes[name] = startProc(t, nil, filepath.Join(bin, "counter"), "-addr", addr, "-redis", rs.URL(), "-node", name, "-keys-file", keys, "-lease-ttl", "2s")
		env = append(env, fmt.Sprintf("NODE%d=%s", i, addr))
		waitListening(t, addr)
	}
	lb := env[0][len("LB_ADDR="):]
	startProc(t, env, haproxy, "-db", "-f", "../deploy/haproxy.cfg")
	waitListening(t, lb)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	count := func() (int, string) {
		res, err := c.Get("http://" + lb + "/")
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		m := countRE.FindSubmatch(b)
		if m == nil {
			return 0, fmt.Sprintf("%d %s", res.StatusCode, b)
		}
		var n int
		fmt.Sscan(string(m[1]), &n)
		return n, ""
	}
	for i := 1; i <= 5; i++ {
		n, page := count()
		require.Equal(t, i, n, page)
	}
	u, _ := url.Parse("http://" + lb + "/")
	holder := ""
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "SRV" {
			holder = ck.Value
		}
	}
	require.Contains(t, nodes, holder, "HAProxy's SRV cookie names the node")
	require.NoError(t, nodes[holder].Process.Signal(syscall.SIGKILL))
	start := time.Now()
	n, page := count()
	require.Equal(t, 6, n, "another node took the session over: %s", page)
	t.Logf("step 6 answered %v after node %s was killed", time.Since(start), holder)
}
