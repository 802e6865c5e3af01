//go:build unix

package demo

import (
	"io"
	"os"
	"syscall"
	"time"
)

// Stdin returns the process's standard input for a reader that a shutdown
// must be able to stop. On Unix it is an [io.ReadCloser] whose Close ends
// a Read in progress: it reads a duplicate of the descriptor, made
// non-blocking so that the runtime's poller waits on it, and Close puts
// the blocking mode back as the process found it (the mode belongs to the
// open file, which the process shares with whoever started it: a shell's
// terminal). Where that cannot be done, and on other systems, it is
// [os.Stdin] as a plain [io.Reader] (no Close): a read in progress ends
// only with input, end of file, or the process.
func Stdin() io.Reader { return interruptible(syscall.Stdin, os.Stdin) }

// interruptible returns a reader of fd whose Close ends a Read in
// progress, or else f, which reads fd, without its Close.
func interruptible(fd int, f *os.File) io.Reader {
	plain := struct{ io.Reader }{f}
	// os.NewFile reads a descriptor that is non-blocking through the
	// poller, where deadlines work: then there is nothing to change.
	dup, err := syscall.Dup(fd)
	if err != nil {
		return plain
	}
	syscall.CloseOnExec(dup)
	nf := os.NewFile(uintptr(dup), f.Name())
	if nf.SetReadDeadline(time.Time{}) == nil {
		return nf
	}
	nf.Close()
	if err := syscall.SetNonblock(fd, true); err != nil {
		return plain
	}
	if dup, err = syscall.Dup(fd); err != nil {
		syscall.SetNonblock(fd, false)
		return plain
	}
	syscall.CloseOnExec(dup)
	return &stdinReader{f: os.NewFile(uintptr(dup), f.Name()), fd: fd}
}

// A stdinReader reads a duplicate of fd, which it made non-blocking.
type stdinReader struct {
	f  *os.File
	fd int
}

func (s *stdinReader) Read(p []byte) (int, error) { return s.f.Read(p) }

// Close ends a Read in progress and puts fd's blocking mode back.
func (s *stdinReader) Close() error {
	err := s.f.Close()
	syscall.SetNonblock(s.fd, false)
	return err
}
