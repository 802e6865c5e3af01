//go:build !unix

package demo

import (
	"io"
	"os"
)

// Stdin returns the process's standard input for a reader that a shutdown
// must be able to stop. On Unix it is an [io.ReadCloser] whose Close ends
// a Read in progress; on this system it is [os.Stdin] as a plain
// [io.Reader] (no Close): a read in progress ends only with input, end of
// file, or the process.
func Stdin() io.Reader { return struct{ io.Reader }{os.Stdin} }
