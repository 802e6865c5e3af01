package continuity

import (
	"net/netip"
	"sync"
	"time"
)

// ipLimiter counts new sessions per client address in fixed windows. Its
// table is bounded: when full, addresses not yet in it are let through
// (the session cap still bounds them), so a flood from many addresses
// cannot lock out everyone else.
type ipLimiter struct {
	limit  int
	window time.Duration

	mu    sync.Mutex
	start time.Time
	count map[netip.Addr]int
}

const maxLimiterEntries = 100_000

func newIPLimiter(limit int, window time.Duration) *ipLimiter {
	return &ipLimiter{limit: limit, window: window, count: make(map[netip.Addr]int)}
}

// allow counts a new session for the client at ip (as the mapper resolves
// it, through TrustedProxies) and reports whether it is within the limit.
func (l *ipLimiter) allow(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true // not an IP peer (a Unix socket): nothing to count
	}
	ip = ip.Unmap()
	if ip.Is6() {
		// One IPv6 client usually holds a whole /64.
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.window {
		l.start = now
		clear(l.count)
	}
	n, ok := l.count[ip]
	if !ok && len(l.count) >= maxLimiterEntries {
		return true
	}
	if n >= l.limit {
		return false
	}
	l.count[ip] = n + 1
	return true
}
