package proc

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A command name may hold spaces and parentheses: the fields are counted
// from the last ')'.
func TestParseStat(t *testing.T) {
	line := "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 100 1000 10 0\n"
	d, err := parseStat([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, 3250*time.Millisecond, d) // (250+75) ticks

	_, err = parseStat([]byte("4242 (x) S 1 2 3\n"))
	assert.Error(t, err)
}

// CPU of the test's own process grows as it works: once getrusage, which
// the kernel derives from the same counters, has seen 100ms more, so has
// /proc (in whole ticks).
func TestCPUOfSelf(t *testing.T) {
	c0, err := CPU(os.Getpid())
	require.NoError(t, err)
	r0 := rusage(t)
	x := 1
	for rusage(t) < r0+100*time.Millisecond {
		for range 1_000_000 {
			x = x*31 + 7
		}
	}
	c1, err := CPU(os.Getpid())
	require.NoError(t, err)
	assert.NotZero(t, x)
	assert.Greater(t, c1, c0)
	assert.Zero(t, c1%(time.Second/ClockTicks), "whole ticks")

	_, err = CPU(-1)
	assert.Error(t, err)
}

func rusage(t *testing.T) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestRSSOfSelf(t *testing.T) {
	rss, err := RSS(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, rss, int64(1<<20), "a Go test binary holds more than 1 MiB")
	assert.Zero(t, rss%1024, "VmRSS is in kB")

	_, err = RSS(-1)
	assert.Error(t, err)
}

func TestStartListening(t *testing.T) {
	p, url, err := StartListening(exec.Command("sh", "-c", `echo "listening on http://127.0.0.1:1/"; exec sleep 60`), "sh", nil)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:1", url)
	assert.False(t, p.Exited())
	p.Stop(time.Minute) // SIGTERM ends sleep
	assert.True(t, p.Exited())
	assert.False(t, p.Cmd.ProcessState.Success())
}

func TestStartListeningWrongLine(t *testing.T) {
	_, _, err := StartListening(exec.Command("sh", "-c", `echo hello; echo oops >&2; exec sleep 60`), "the shell",
		func() string { return "its log" })
	require.Error(t, err)
	assert.Equal(t, "the shell said \"hello\\n\": <nil>\nits log", err.Error())

	_, _, err = StartListening(exec.Command("/nonexistent/binary"), "nothing", nil)
	assert.Error(t, err)
}

func TestStartLineTimesOut(t *testing.T) {
	p, line, err := StartLine(exec.Command("sleep", "60"), 0)
	require.NotNil(t, p)
	assert.Empty(t, line)
	assert.EqualError(t, err, "no line in 0s")
	p.Kill()
}

// Kill does not wait for a grace period: SIGTERM is ignored here.
func TestKillAndWaitOrKill(t *testing.T) {
	cmd := exec.Command("sh", "-c", `trap "" TERM; echo ready; while :; do sleep 1; done`)
	p, line, err := StartLine(cmd, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "ready\n", line)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	p.WaitOrKill(0) // kills at once
	assert.True(t, p.Exited())
	p.Stop(time.Minute) // already gone: no-op

	p, err = Start(exec.Command("sleep", "60"))
	require.NoError(t, err)
	p.Kill()
	assert.True(t, p.Exited())
}

func TestRaiseFileLimit(t *testing.T) {
	n, err := RaiseFileLimit()
	require.NoError(t, err)
	var l syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l))
	assert.Equal(t, l.Max, n)
	assert.Equal(t, l.Cur, n)
}
