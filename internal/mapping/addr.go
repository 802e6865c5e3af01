package mapping

import (
	"errors"
	"net/http"
	"net/netip"
	"path"
	"strings"
)

// ErrBadForwardedFor means a request came through a trusted proxy with an
// X-Forwarded-For header that does not parse. The mapper fails closed
// rather than guess the client.
var ErrBadForwardedFor = errors.New("continuity: malformed X-Forwarded-For from a trusted proxy")

// clientIP returns the client address of r. Forwarded headers are believed
// only when the peer is a trusted proxy, and then the rightmost address that
// is not itself a trusted proxy is the client.
func clientIP(r *http.Request, trusted []netip.Prefix) (netip.Addr, error) {
	peer, err := parseRemote(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, err
	}
	if !inPrefixes(peer, trusted) {
		return peer, nil
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return netip.Addr{}, ErrBadForwardedFor
			}
			client = a.Unmap()
			if !inPrefixes(client, trusted) {
				return client, nil
			}
		}
	}
	return client, nil
}

func parseRemote(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, errors.New("continuity: cannot parse client address " + quoteShort(s))
	}
	return a.Unmap(), nil
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// cleanPath normalises a URL path for ByPath keys, so that /a/../b, //b and
// /b/ all key the same session as /b.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	return path.Clean("/" + p)
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}
