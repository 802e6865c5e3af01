package examples_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/continuitytest"
	"github.com/continuity-go/continuity/internal/redistest"
)

// A deployment is one redis-server and a shared keys file: the nodes
// started with node are its members.
type deployment struct {
	redis *redistest.Server
	keys  string
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	d := &deployment{redis: redistest.Start(t, redistest.Options{}), keys: filepath.Join(t.TempDir(), "keys")}
	require.NoError(t, os.WriteFile(d.keys, []byte("6f1d0c5e9b7a4d2e8c3f1a0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e\n"), 0o600))
	return d
}

// node starts bin as the node named name of d, listening on addr, with
// more flags; its stderr is logged if the test fails.
func (d *deployment) node(t *testing.T, bin, name, addr string, more ...string) *program {
	t.Helper()
	args := append([]string{"-addr", addr, "-redis", d.redis.URL(), "-node", name, "-keys-file", d.keys}, more...)
	p := launch(t, bin, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s %v stderr:\n%s", filepath.Base(bin), args, p.stderr.String())
		}
	})
	waitListening(t, addr)
	return p
}

// jsonClient is a browser's script: an HTTP client with a cookie jar of
// its own, on tr.
func jsonClient(t *testing.T, tr http.RoundTripper) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second}
}

type chatAnswer struct {
	Messages []struct {
		ID      uint64 `json:"id"`
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"messages"`
	Next uint64 `json:"next"`
}

// chatReceive long-polls base for the messages after since.
func chatReceive(c *http.Client, base string, since uint64) (chatAnswer, error) {
	var a chatAnswer
	resp, err := c.Get(base + "receive?since=" + strconv.FormatUint(since, 10))
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return a, err
	}
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("%s: %s", resp.Status, body)
	}
	return a, json.Unmarshal(body, &a)
}

// chatSend posts message as name, as the page's script does, and returns
// the id the node gave it.
func chatSend(t *testing.T, c *http.Client, base, name, message string) uint64 {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"send", strings.NewReader(url.Values{"name": {name}, "message": {message}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var ok struct{ ID uint64 }
	require.NoError(t, json.Unmarshal(body, &ok), "%s", body)
	return ok.ID
}

var waitersRE = regexp.MustCompile(`(?m)^continuity_topic_waiters\{[^}]*continuity_topic="chat"[^}]*\} (\d+)`)

// chatWaiters is the number of receivers waiting in the chat's topic on
// the node whose -admin is at admin.
func chatWaiters(c *http.Client, admin string) int {
	resp, err := c.Get("http://" + admin + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := waitersRE.FindSubmatch(b)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestChatAcrossNodes: two chat processes with -redis are one chat. A
// browser on node B waits in a long poll, and another in an event stream;
// a browser on node A posts; both receive the message, with the id that A
// gave it. B's answer goes the other way too, and a page opened on B
// shows the history posted on A.
func TestChatAcrossNodes(t *testing.T) {
	d := newDeployment(t)
	bin := filepath.Join(build(t, []string{"chat"}), "chat")
	addrA, addrB, adminB := freeAddr(t), freeAddr(t), freeAddr(t)
	nodeA := d.node(t, bin, "a", addrA, "-wait", "20s")
	nodeB := d.node(t, bin, "b", addrB, "-wait", "20s", "-admin", adminB)
	baseA, baseB := "http://"+addrA+"/", "http://"+addrB+"/"

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	alice, bob, carol := jsonClient(t, tr), jsonClient(t, tr), jsonClient(t, tr)
	operator := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	// Bob's page's script on B: a long poll from the start of the room.
	polled := make(chan chatAnswer, 1)
	go func() {
		a, err := chatReceive(bob, baseB, 0)
		assert.NoError(t, err)
		polled <- a
	}()
	require.Eventually(t, func() bool { return chatWaiters(operator, adminB) == 1 }, 10*time.Second, 20*time.Millisecond,
		"Bob's long poll waits on node B")

	// Carol's on B, with #sse: an event stream, open before Alice posts.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseB+"events?since=0", nil)
	require.NoError(t, err)
	stream, err := carol.Do(req)
	require.NoError(t, err)
	defer stream.Body.Close()
	require.Equal(t, http.StatusOK, stream.StatusCode)
	require.Equal(t, "text/event-stream", stream.Header.Get("Content-Type"))
	events := bufio.NewReader(stream.Body)
	line, err := events.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "retry: 2000\n", line, "the stream has started")

	start := time.Now()
	id := chatSend(t, alice, baseA, "alice", "hello from node A")
	require.NotZero(t, id)

	select {
	case a := <-polled:
		require.Len(t, a.Messages, 1, "the poll on B was answered with A's message")
		assert.Equal(t, id, a.Messages[0].ID, "one id on every node")
		assert.Equal(t, "alice", a.Messages[0].Name)
		assert.Equal(t, "hello from node A", a.Messages[0].Message)
		assert.Equal(t, id, a.Next)
		t.Logf("posted on A, answered on B after %v", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll on node B did not get the message posted on node A")
	}

	var got []string
	for len(got) < 2 {
		line, err := events.ReadString('\n')
		require.NoError(t, err, "the stream on B got %q", got)
		if strings.HasPrefix(line, "id: ") || strings.HasPrefix(line, "data: ") {
			got = append(got, strings.TrimSuffix(line, "\n"))
		}
	}
	assert.Equal(t, "id: "+strconv.FormatUint(id, 10), got[0])
	assert.Contains(t, got[1], `"message":"hello from node A"`)

	// The other way: Alice now waits on A, Bob answers on B.
	go func() {
		a, err := chatReceive(alice, baseA, id)
		assert.NoError(t, err)
		polled <- a
	}()
	reply := chatSend(t, bob, baseB, "bob", "hello from node B")
	assert.Equal(t, id+1, reply, "B numbers after A's message")
	select {
	case a := <-polled:
		require.Len(t, a.Messages, 1)
		assert.Equal(t, reply, a.Messages[0].ID)
		assert.Equal(t, "hello from node B", a.Messages[0].Message)
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll on node A did not get the message posted on node B")
	}

	// A page opened on B shows what was posted on both.
	resp, err := carol.Get(baseB)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), "hello from node A")
	assert.Contains(t, string(body), "hello from node B")

	// Both nodes shut down on SIGTERM, exit 0, with their sessions (which
	// stay on their node: the chat keys them by path) ended at once.
	cancel()
	tr.CloseIdleConnections()
	stop(t, nodeA, syscall.SIGTERM)
	require.NoError(t, nodeB.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-nodeB.exited:
		require.NoError(t, nodeB.waitErr, "stderr: %s", nodeB.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("node B still runs 10s after SIGTERM")
	}
}

var (
	wizardStepRE = regexp.MustCompile(`<h2 id="step">([^<]*)</h2>`)
	wizardSpanRE = regexp.MustCompile(`<span id="(?:name|email)">([^<]*)</span>`)
)

// wizardPage is the step a wizard page is at and what it shows as the
// name and the email: "Step 3 of 3", "Ann ann@example.com".
func wizardPage(t *testing.T, p *continuitytest.Page) (string, string) {
	t.Helper()
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	m := wizardStepRE.FindStringSubmatch(p.Body)
	require.NotNil(t, m, "no step heading in %s", p.Body)
	var shown []string
	for _, s := range wizardSpanRE.FindAllStringSubmatch(p.Body, -1) {
		shown = append(shown, s[1])
	}
	return m[1], strings.Join(shown, " ")
}

// TestWizardSurvivesANodeRestart: the wizard with -redis; a browser goes
// some steps in, the node is restarted (SIGTERM, exit 0, a new process on
// the same address with the same Redis and keys), and the browser goes
// on: the new process rebuilds the flow from the journal in Redis.
func TestWizardSurvivesANodeRestart(t *testing.T) {
	d := newDeployment(t)
	bin := filepath.Join(build(t, []string{"wizard"}), "wizard")

	// start runs a node on a fresh address and returns a browser at its
	// first page, and a restart that replaces the node by a new process.
	start := func(t *testing.T) (*continuitytest.Browser, func()) {
		addr := freeAddr(t)
		p := d.node(t, bin, "a", addr)
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		b := continuitytest.NewRemote(t, "http://"+addr+"/", tr)
		step, _ := wizardPage(t, b.Get("/"))
		require.Equal(t, "Step 1 of 3", step)
		restart := func() {
			old := p.cmd.Process.Pid
			stop(t, p, syscall.SIGTERM)
			tr.CloseIdleConnections() // the old process's connections are gone
			p = d.node(t, bin, "a", addr)
			require.NotEqual(t, old, p.cmd.Process.Pid)
		}
		return b, restart
	}

	t.Run("values entered before the restart", func(t *testing.T) {
		b, restart := start(t)
		step, _ := wizardPage(t, b.Submit(map[string]string{"name": "Ann"}))
		require.Equal(t, "Step 2 of 3", step)

		restart()

		step, shown := wizardPage(t, b.Submit(map[string]string{"email": "ann@example.com"}))
		require.Equal(t, "Step 3 of 3", step, "the new process takes step 2's input")
		assert.Equal(t, "Ann ann@example.com", shown, "the name from before the restart")
		step, shown = wizardPage(t, b.Press("Confirm", nil))
		assert.Equal(t, "Done", step)
		assert.Equal(t, "Ann ann@example.com", shown)
	})

	t.Run("back after the restart", func(t *testing.T) {
		b, restart := start(t)
		wizardPage(t, b.Submit(map[string]string{"name": "Ann"}))
		step, shown := wizardPage(t, b.Submit(map[string]string{"email": "ann@example.com"}))
		require.Equal(t, "Step 3 of 3", step)
		require.Equal(t, "Ann ann@example.com", shown)

		restart()

		// Back to step 1, a page (and a step token) of the old process.
		b.Back()
		step, _ = wizardPage(t, b.Back())
		require.Equal(t, "Step 1 of 3", step)
		p := b.Submit(map[string]string{"name": "Bob"})
		step, _ = wizardPage(t, p)
		require.Equal(t, "Step 2 of 3", step, "the flow rewinds to step 1 and takes the new name")
		assert.Contains(t, p.Text(), "Hello, Bob.")
		assert.NotContains(t, p.Body, `id="notice"`)

		step, shown = wizardPage(t, b.Submit(map[string]string{"email": "bob@example.com"}))
		require.Equal(t, "Step 3 of 3", step)
		assert.Equal(t, "Bob bob@example.com", shown)
		step, shown = wizardPage(t, b.Press("Confirm", nil))
		assert.Equal(t, "Done", step)
		assert.Equal(t, "Bob bob@example.com", shown)
	})
}
