package mapping

import (
	"errors"
	"net/netip"
	"time"
)

// ErrClientLimit is returned by [Mapper.Session] when the request's client
// (an IP address, an IPv6 /64, or the client that TrustedProxies forward
// for) may not start another session: it holds MaxBusyPerClient busy
// sessions, or MaxSessionsPerClient sessions none of which is idle, or the
// table is full and it holds at least an average share of it with none
// idle. Servers answer 429 with Retry-After.
var ErrClientLimit = errors.New("continuity: too many sessions from this client")

// clientRefusal is how long a client refused with ErrClientLimit is
// refused again without looking at its sessions: telling whether it may
// start one costs a walk over its sessions under the table's lock, which
// a flood must not buy once per handoff.
const clientRefusal = time.Second

// Default shares of the table for one client. A client is one address, and
// an office, a campus or a mobile carrier's NAT puts many people behind
// one, so the shares are generous: an eighth of the table live and a
// sixteenth busy, but never fewer than 64 live and 32 busy sessions (or
// the whole table when it is smaller) so that small tables are not carved
// up. A client over its live share displaces its own least recently used
// idle session, so even a large office only recycles its own sessions;
// the busy share is what it takes to pin sessions with streams and long
// polls, and at least sixteen clients are needed to pin a whole table.
const (
	clientLiveShare = 8
	clientBusyShare = 16
	clientLiveFloor = 64
	clientBusyFloor = 32
)

// clientBounds returns the per-client bounds for the configured values; 0
// means no bound.
func clientBounds(maxSessions, live, busy int) (int, int) {
	share := func(v, div, floor int) int {
		switch {
		case v < 0:
			return 0
		case v > 0:
			return v
		}
		return max(maxSessions/div, min(maxSessions, floor))
	}
	return share(live, clientLiveShare, clientLiveFloor), share(busy, clientBusyShare, clientBusyFloor)
}

// client is one client's part of the table.
type client struct {
	key  netip.Addr
	list // its sessions in the table, most recently used first
	// refusedUntil, if set, is the mapper clock (nanoseconds since epoch)
	// until which new sessions are refused without a look.
	refusedUntil int64
}

// clientKey is the address whose share a client draws on: IPv6 clients
// usually hold a whole /64. Loopback and non-IP peers are not bounded:
// they are the host itself, or a reverse proxy on it that is missing from
// TrustedProxies, whose share would otherwise be every user's.
func clientKey(a netip.Addr) (netip.Addr, bool) {
	if !a.IsValid() || a.IsLoopback() {
		return netip.Addr{}, false
	}
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().Addr(), true
	}
	return a, true
}

func (c *client) pushFront(e *entry) {
	c.list.pushFront(e)
	e.client = c
}

func (c *client) remove(e *entry) {
	c.list.remove(e)
	e.client = nil
}

// idleVictim is the client's session to displace: its least recently used
// idle session that has seen one request, else its least recently used
// idle one; nil if all are busy.
func (c *client) idleVictim() *entry {
	var fallback *entry
	for e := c.tail; e != nil; e = e.places[inClient].prev {
		if e.sess.Busy() {
			continue
		}
		if e.hits <= 1 {
			return e
		}
		if fallback == nil {
			fallback = e
		}
	}
	return fallback
}

// busyAtLeast reports whether k or more of the client's sessions are busy,
// stopping as soon as the answer is known.
func (c *client) busyAtLeast(k int) bool {
	busy, left := 0, c.n
	for e := c.head; e != nil && busy < k && busy+left >= k; e = e.places[inClient].next {
		left--
		if e.sess.Busy() {
			busy++
		}
	}
	return busy >= k
}
