package demo

import (
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nonblocking reports whether fd's open file is in non-blocking mode.
func nonblocking(t *testing.T, fd int) bool {
	t.Helper()
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	require.Zero(t, errno)
	return flags&syscall.O_NONBLOCK != 0
}

// TestInterruptibleStdin: on a pipe, as standard input often is, Close
// ends a Read that no input would end, and the pipe is left blocking, as
// it was found (goleak checks that the reader is gone).
func TestInterruptibleStdin(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	defer r.Close()
	fd := int(r.Fd()) // which makes r blocking, as a process's stdin is
	require.False(t, nonblocking(t, fd))

	in := interruptible(fd, r)
	c, ok := in.(io.Closer)
	require.True(t, ok, "closable")
	assert.True(t, nonblocking(t, fd), "read through the poller")

	_, err = w.WriteString("1 + 1\n")
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := in.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "1 + 1\n", string(buf[:n]))

	read := make(chan error, 1)
	go func() {
		_, err := in.Read(buf) // nothing more is written
		read <- err
	}()
	require.NoError(t, c.Close())
	assert.ErrorIs(t, <-read, os.ErrClosed)
	assert.False(t, nonblocking(t, fd), "blocking again")

	// r itself still reads.
	_, err = w.WriteString("x")
	require.NoError(t, err)
	n, err = r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "x", string(buf[:n]))
}

// TestInterruptibleNonBlockingStdin: a descriptor that is non-blocking
// already is read through the poller as it is, and left so.
func TestInterruptibleNonBlockingStdin(t *testing.T) {
	r, w, err := os.Pipe() // non-blocking, as os.Pipe makes them
	require.NoError(t, err)
	defer w.Close()
	defer r.Close()
	rc, err := r.SyscallConn()
	require.NoError(t, err)
	var fd int
	require.NoError(t, rc.Control(func(d uintptr) { fd = int(d) }))
	require.True(t, nonblocking(t, fd))

	in := interruptible(fd, r)
	c, ok := in.(io.Closer)
	require.True(t, ok, "closable")
	read := make(chan error, 1)
	go func() {
		_, err := in.Read(make([]byte, 8))
		read <- err
	}()
	require.NoError(t, c.Close())
	assert.ErrorIs(t, <-read, os.ErrClosed)
	assert.True(t, nonblocking(t, fd), "left as it was")
}

// TestStdinAtEndOfFile: /dev/null (go test's stdin), which the poller
// cannot wait on, reads as end of file at once, and closes.
func TestStdinAtEndOfFile(t *testing.T) {
	f, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer f.Close()
	in := interruptible(int(f.Fd()), f)
	n, err := in.Read(make([]byte, 8))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.EOF)
	if c, ok := in.(io.Closer); ok {
		assert.NoError(t, c.Close())
	}
}
