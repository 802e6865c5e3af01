package examples_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/redistest"
)

// haproxyCommand sends one command to HAProxy's runtime API and returns
// its answer.
func haproxyCommand(t *testing.T, sock, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, cmd+"\n")
	require.NoError(t, err)
	b, err := io.ReadAll(bufio.NewReader(c))
	require.NoError(t, err)
	return string(b)
}

// TestRollingDeployBehindHAProxy drains a node as an operator would in a
// rolling deploy: HAProxy's runtime API sets it to drain (new browsers go
// elsewhere, its own stay), then SIGTERM ends it; its sessions' leases are
// released after their current step, so the browser's next request is
// served at once by another node, at the next step, with nothing lost.
func TestRollingDeployBehindHAProxy(t *testing.T) {
	haproxy := haproxyBinary(t)
	rs := redistest.Start(t, redistest.Options{})
	bin := build(t, []string{"counter"})
	keys := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(keys, []byte("6f1d0c5e9b7a4d2e8c3f1a0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e\n"), 0o600))
	sock := filepath.Join(t.TempDir(), "haproxy.sock")

	nodes := map[string]*exec.Cmd{}
	lb := freeAddr(t)
	env := []string{"LB_ADDR=" + lb, "HAPROXY_SOCK=" + sock}
	for i := 1; i <= 3; i++ {
		addr := freeAddr(t)
		name := fmt.Sprintf("n%d", i)
		nodes[name] = startProc(t, nil, filepath.Join(bin, "counter"), "-addr", addr, "-redis", rs.URL(), "-node", name, "-keys-file", keys)
		env = append(env, fmt.Sprintf("NODE%d=%s", i, addr))
		waitListening(t, addr)
	}
	startProc(t, env, haproxy, "-db", "-f", "../deploy/haproxy.cfg")
	waitListening(t, lb)

	type browserT struct {
		c   *http.Client
		jar http.CookieJar
	}
	newBrowser := func() browserT {
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		return browserT{&http.Client{Jar: jar, Timeout: 30 * time.Second}, jar}
	}
	count := func(b browserT) int {
		t.Helper()
		res, err := b.c.Get("http://" + lb + "/")
		require.NoError(t, err)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		m := countRE.FindSubmatch(body)
		require.NotNil(t, m, "%d %s", res.StatusCode, body)
		var n int
		fmt.Sscan(string(m[1]), &n)
		return n
	}
	node := func(b browserT) string {
		u, _ := url.Parse("http://" + lb + "/")
		for _, ck := range b.jar.Cookies(u) {
			if ck.Name == "SRV" {
				return ck.Value
			}
		}
		return ""
	}

	x := newBrowser()
	for i := 1; i <= 3; i++ {
		require.Equal(t, i, count(x))
	}
	holder := node(x)
	require.Contains(t, nodes, holder)

	answer := haproxyCommand(t, sock, "set server nodes/"+holder+" state drain")
	require.Empty(t, strings.TrimSpace(answer), "the runtime API accepted the drain")
	for range 4 {
		y := newBrowser()
		require.Equal(t, 1, count(y))
		assert.NotEqual(t, holder, node(y), "a drained node gets no new browsers")
	}
	require.Equal(t, 4, count(x), "a drained node keeps the browsers it has")
	require.Equal(t, holder, node(x))

	p := nodes[holder]
	require.NoError(t, p.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.Wait(), "the node exits 0 on SIGTERM")
	start := time.Now()
	require.Equal(t, 5, count(x), "another node went on at the next step")
	took := time.Since(start)
	assert.NotEqual(t, holder, node(x))
	assert.Less(t, took, 5*time.Second, "the lease was released, not waited out (its TTL is 15s)")
	t.Logf("after the drained node stopped, the next step took %v on %s", took, node(x))
}
