//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"unsafe"
)

// The isolated network: an address range on the loopback interface of a
// network namespace of the bench's own. Addresses in 127.0.0.0/8 would be
// simpler, but continuity never bounds loopback clients (they are the
// host, or a proxy on it), so an attacker on 127.0.0.2 would not meet the
// per-client bounds a remote one does. 198.18.0.0/15 is the range set
// aside for benchmarks (RFC 2544); on a loopback interface the kernel
// makes the whole prefix local, as it does 127.0.0.0/8.
var (
	isoServer = netip.MustParseAddr("198.18.0.1")
	isoUser   = netip.MustParseAddr("198.18.0.2")
	isoAttack = netip.MustParseAddr("198.18.0.3")
	isoIdle   = netip.MustParseAddr("198.18.0.4")
	isoBots   = netip.MustParseAddr("198.18.1.0") // the first of -bot-addrs
	isoMask   = [4]byte{255, 255, 0, 0}
)

// exitNoNetns is the child's exit status when it could not set up its
// namespace's network; the parent then runs on plain loopback.
const exitNoNetns = 3

// isolate runs this program again in a new network namespace (and, when
// not root, a new user namespace, which lets an unprivileged user own
// it), with args added. It reports whether the child ran; if it did, code
// is its exit status.
func isolate(args []string) (ran bool, code int, err error) {
	cmd := exec.Command("/proc/self/exe", append(os.Args[1:], args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	cmd.SysProcAttr = attr
	// The child handles an interrupt (it gets it too, from the terminal)
	// and stops its servers; this process waits for it.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	defer signal.Reset(os.Interrupt, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		return false, 0, err
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, 0, nil
	case errors.As(err, &exit) && exit.ExitCode() == exitNoNetns:
		return false, 0, errors.New("the namespace's loopback could not be set up")
	case errors.As(err, &exit):
		return true, exit.ExitCode(), nil
	}
	return true, 1, err
}

// setupLoopback brings up the namespace's loopback interface and gives it
// the isolated range, then checks that a connection between two of its
// addresses works.
func setupLoopback() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr [40]byte // struct ifreq: a 16-byte name, then a 24-byte union
	copy(ifr[:16], "lo")
	if err := ioctl(fd, syscall.SIOCGIFFLAGS, &ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS lo: %w", err)
	}
	flags := binary.NativeEndian.Uint16(ifr[16:]) | syscall.IFF_UP
	binary.NativeEndian.PutUint16(ifr[16:], flags)
	if err := ioctl(fd, syscall.SIOCSIFFLAGS, &ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS lo: %w", err)
	}
	for _, set := range []struct {
		req  uintptr
		addr [4]byte
	}{{syscall.SIOCSIFADDR, isoServer.As4()}, {syscall.SIOCSIFNETMASK, isoMask}} {
		var a [40]byte
		copy(a[:16], "lo:1")
		binary.NativeEndian.PutUint16(a[16:], syscall.AF_INET) // sockaddr_in: family, port, address
		copy(a[20:24], set.addr[:])
		if err := ioctl(fd, set.req, &a); err != nil {
			return fmt.Errorf("ioctl %#x lo:1: %w", set.req, err)
		}
	}
	l, err := net.Listen("tcp", netip.AddrPortFrom(isoServer, 0).String())
	if err != nil {
		return err
	}
	defer l.Close()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(isoAttack, 0))}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		return err
	}
	return c.Close()
}

func ioctl(fd int, req uintptr, ifr *[40]byte) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(ifr))); errno != 0 {
		return errno
	}
	return nil
}
