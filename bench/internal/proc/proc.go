// Package proc is what the benchmark programs under bench/ need of the
// processes they start and measure: starting one and stopping it, and its
// CPU time and resident memory from /proc (Linux).
package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ClockTicks is USER_HZ: /proc counts CPU time in hundredths of a second.
const ClockTicks = 100

// A Process is a started child process. A goroutine of its own waits for
// it, so that Exited and Stop can tell when it is gone: it ends when the
// process does.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
}

// Start starts cmd.
func Start(cmd *exec.Cmd) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// StartLine starts cmd and waits up to limit for the first line of its
// standard output; the rest is discarded. With a nil Process, cmd did not
// start; else err is why there is no line (the process may still run).
func StartLine(cmd *exec.Cmd, limit time.Duration) (p *Process, line string, err error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	type read struct {
		line string
		err  error
	}
	first := make(chan read, 1)
	p = &Process{Cmd: cmd, done: make(chan struct{})}
	go func() {
		br := bufio.NewReader(out)
		l, err := br.ReadString('\n')
		first <- read{l, err}
		// cmd.Wait closes the pipe: only once it is read to the end.
		io.Copy(io.Discard, br)
		cmd.Wait()
		close(p.done)
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case r := <-first:
		return p, r.line, r.err
	case <-t.C:
		return p, "", fmt.Errorf("no line in %v", limit)
	}
}

// StartListening starts cmd, a program that prints "listening on URL" as
// the first line of its standard output (as the examples do), and returns
// it and the URL without its trailing slash. If the line is not that, or
// not there within a minute, it stops the process (as
// Stop(20*time.Second) does), and the error says what name printed,
// followed by logTail().
func StartListening(cmd *exec.Cmd, name string, logTail func() string) (*Process, string, error) {
	p, line, err := StartLine(cmd, time.Minute)
	if p == nil {
		return nil, "", err
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		p.Stop(20 * time.Second)
		return nil, "", fmt.Errorf("%s said %q: %v\n%s", name, line, err, logTail())
	}
	return p, strings.TrimSuffix(url, "/"), nil
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process gracefully: SIGTERM, then SIGKILL if it is still
// there after grace. It returns once the process is gone.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	p.WaitOrKill(grace)
}

// WaitOrKill waits until the process exits, killing it if it has not
// within grace: for processes told to end some other way (their stdin
// closed, say).
func (p *Process) WaitOrKill(grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.Kill()
	}
}

// Kill ends the process at once, as a crash would, and waits until it is
// gone.
func (p *Process) Kill() {
	p.Cmd.Process.Kill()
	<-p.done
}

// CPU is the process's CPU time so far.
func (p *Process) CPU() (time.Duration, error) { return CPU(p.Pid()) }

// RSS is the process's resident set size in bytes.
func (p *Process) RSS() (int64, error) { return RSS(p.Pid()) }

// CPU is the CPU time (user and system, utime+stime of /proc/PID/stat)
// that process pid has used so far, in whole clock ticks.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

// parseStat is the CPU time in a /proc/PID/stat line.
func parseStat(b []byte) (time.Duration, error) {
	// The command name, in parentheses, may hold spaces; the fields after
	// it may not.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / ClockTicks, nil
}

// RSS is the resident set size of process pid in bytes (VmRSS of
// /proc/PID/status).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// RaiseFileLimit raises the soft open-file limit to the hard one, and
// returns it: a bench with N connections needs N descriptors in each
// process, and the processes it starts inherit the limit.
func RaiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}
