package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// newTransport is an HTTP transport whose connections come from local
// (if valid), each dial waiting for a slot in dials (a burst of thousands
// of SYNs overflows the listen backlog), with a receive buffer of rcvbuf
// bytes if it is positive.
func newTransport(local netip.Addr, dials chan struct{}, rcvbuf int) *http.Transport {
	d := dialer(local, rcvbuf)
	return &http.Transport{
		MaxIdleConns:        20000,
		MaxIdleConnsPerHost: 20000,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case dials <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			defer func() { <-dials }()
			return d.DialContext(ctx, network, addr)
		},
	}
}

func dialer(local netip.Addr, rcvbuf int) *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0))
	}
	if rcvbuf > 0 {
		// Before connect, so that the window it offers is small from the
		// start.
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	return d
}

// errKind names an error for the tallies.
func errKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "no fd"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "error"
}

// pause waits d, or until ctx is done; it reports whether ctx is still
// live.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// budget bounds how many times a loop may go round, across goroutines.
type budget struct{ left atomic.Int64 }

func newBudget(n int64) *budget {
	b := new(budget)
	b.left.Store(n)
	return b
}

// take reports whether another round is allowed, and counts it.
func (b *budget) take() bool { return b.left.Add(-1) >= 0 }

// tally counts outcomes by name: an HTTP status, or what happened instead.
type tally struct {
	mu sync.Mutex
	m  map[string]int64
}

func newTally() *tally { return &tally{m: make(map[string]int64)} }

func (t *tally) add(k string, n int64) {
	t.mu.Lock()
	t.m[k] += n
	t.mu.Unlock()
}

func (t *tally) status(code int) { t.add(strconv.Itoa(code), 1) }

func (t *tally) err(err error) { t.add(errKind(err), 1) }

func (t *tally) total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, v := range t.m {
		n += v
	}
	return n
}

// String lists the counts, statuses first in order, then the rest.
func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		na, ea := strconv.Atoi(a[:min(3, len(a))])
		nb, eb := strconv.Atoi(b[:min(3, len(b))])
		switch {
		case ea == nil && eb == nil && na != nb:
			return na - nb
		case ea == nil && eb != nil:
			return -1
		case ea != nil && eb == nil:
			return 1
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s× %s", thousands(t.m[k]), k)
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

// thousands formats n with commas.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
