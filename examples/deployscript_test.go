package examples_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/redistest"
)

func freePort(t *testing.T) int {
	_, p, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	n, err := strconv.Atoi(p)
	require.NoError(t, err)
	return n
}

// TestDeployScript runs README's "run it on several nodes" recipe as a
// new user would, deploy/run.sh, on free ports: Redis, three nodes of the
// tour and HAProxy start; the counter counts through HAProxy; Ctrl-C (a
// SIGINT to the script's process group) stops every one of them.
func TestDeployScript(t *testing.T) {
	haproxyBinary(t)
	redistest.Binary(t)
	redisPort, lbPort := freePort(t), freePort(t)
	nodePorts := []int{freePort(t), freePort(t), freePort(t)}
	cmd := exec.Command("bash", "../deploy/run.sh")
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("REDIS_PORT=%d", redisPort), fmt.Sprintf("LB_PORT=%d", lbPort),
		fmt.Sprintf("NODE_PORTS=%d %d %d", nodePorts[0], nodePorts[1], nodePorts[2]))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &output{line: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("run.sh:\n%s", out.String())
		}
	})

	lb := fmt.Sprintf("127.0.0.1:%d", lbPort)
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", lb)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 90*time.Second, 50*time.Millisecond, "HAProxy listens (the script builds the tour first)")
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	for i := 1; i <= 3; i++ {
		var body []byte
		require.Eventually(t, func() bool { // until HAProxy's checks see a node up
			res, err := c.Get("http://" + lb + "/counter/")
			if err != nil {
				return false
			}
			defer res.Body.Close()
			body, _ = io.ReadAll(res.Body)
			return res.StatusCode == http.StatusOK
		}, 10*time.Second, 50*time.Millisecond)
		m := countRE.FindSubmatch(body)
		require.NotNil(t, m, "%s", body)
		assert.Equal(t, strconv.Itoa(i), string(m[1]))
	}

	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT), "Ctrl-C")
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("run.sh did not stop on Ctrl-C")
	}
	exited <- nil // for the cleanup
	for _, p := range append([]int{redisPort, lbPort}, nodePorts...) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			c.Close()
		}
		assert.Error(t, err, "port %d is closed: everything stopped", p)
	}
}
