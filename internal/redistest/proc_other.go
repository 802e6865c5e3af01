//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing where the kernel offers no parent-death
// signal: a server outlives a test process killed before its cleanup.
func dieWithParent(*exec.Cmd) {}
