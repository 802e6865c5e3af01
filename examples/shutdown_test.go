package examples_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/examples/internal/demo"
)

// TestSIGTERMAnswersOpenRequestsAndEndsSessions runs the tour as a real
// process with a chat long-poll waiting and a progress task busy in its
// session, sends SIGTERM, and checks that both requests are answered, that
// the sessions ended with reason shutdown (the examples log each end), and
// that the process exits 0 within the shutdown deadline.
func TestSIGTERMAnswersOpenRequestsAndEndsSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	admin := freeAddr(t)
	p := launch(t, build(t, []string{"tour"})+"/tour", "-addr", "127.0.0.1:0", "-admin", admin)
	// The admin address comes first; the app's line follows it.
	appLine := regexp.MustCompile(`(?m)^listening on (http://127\.0\.0\.1:[1-9][0-9]*/)$`)
	require.Eventually(t, func() bool { return appLine.MatchString(p.stdout.String()) }, 10*time.Second, 10*time.Millisecond)
	base, stderr := appLine.FindStringSubmatch(p.stdout.String())[1], p.stderr

	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Jar: jar, Transport: tr, Timeout: 20 * time.Second}

	// A busy session: the progress task runs in the session (5s).
	resp, err := c.Get(base + "progress/")
	require.NoError(t, err)
	resp.Body.Close()
	work, err := c.Get(base + "progress/start")
	require.NoError(t, err)
	defer work.Body.Close()
	lines := bufio.NewScanner(work.Body)
	require.True(t, lines.Scan(), "the task started")
	assert.Contains(t, lines.Text(), "started")

	// A long-poll waiting in a chat session (25s by default).
	resp, err = c.Get(base + "chat/")
	require.NoError(t, err)
	resp.Body.Close()
	polled := make(chan int, 1)
	go func() {
		resp, err := c.Get(base + "chat/receive?since=0")
		if err != nil {
			polled <- -1
			return
		}
		resp.Body.Close()
		polled <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return chatWaiters(c, admin) == 1 }, 10*time.Second, 10*time.Millisecond,
		"the long-poll waits in its session")

	sent := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))

	select {
	case code := <-polled:
		assert.Positive(t, code, "the long-poll was answered, not cut")
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll was not answered")
	}
	for lines.Scan() { // the busy session's response ends
	}
	select {
	case <-p.exited:
		require.NoError(t, p.waitErr, "exit status 0\nstderr:\n%s", stderr.String())
	case <-time.After(12 * time.Second):
		t.Fatalf("did not exit\nstderr:\n%s", stderr.String())
	}
	assert.Less(t, time.Since(sent), 10*time.Second, "within the shutdown deadline")
	logs := stderr.String()
	assert.GreaterOrEqual(t, strings.Count(logs, `reason="continuity: server shutdown"`), 3,
		"the progress, chat page and chat receive sessions ended with reason shutdown:\n%s", logs)
}

// TestSIGTERMWithASlowUploadExitsZero (issue 8 #17): a form body sent a
// byte a second would hold the shutdown until the 60s read timeout, past
// the 10s shutdown deadline, and the program would exit 1. A slow client
// must not make a shutdown fail: the upload is cut, the program exits 0.
func TestSIGTERMWithASlowUploadExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	p := launch(t, build(t, []string{"hello"})+"/hello", "-addr", "127.0.0.1:0")
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/"))
	require.NoError(t, err)
	defer conn.Close()
	// Expect: 100-continue makes the server say when its handler starts
	// reading the body: no guessing with a sleep.
	_, err = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	status, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", status, "the server is reading the body")
	_, err = io.WriteString(conn, "name=")
	require.NoError(t, err)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte a second, as the client did
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := io.WriteString(conn, "a"); err != nil {
					return
				}
			}
		}
	}()

	sent := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
		require.NoError(t, p.waitErr, "exit status 0\nstderr:\n%s", p.stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("did not exit\nstderr:\n%s", p.stderr.String())
	}
	assert.Less(t, time.Since(sent), demo.ShutdownTimeout, "within the shutdown deadline")
}
