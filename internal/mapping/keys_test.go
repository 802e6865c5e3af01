package mapping

import (
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string // one X-Forwarded-For header per element
		trusted []netip.Prefix
		want    string
		wantErr error
	}{
		{name: "no proxies: peer", remote: "192.0.2.1:1234", want: "192.0.2.1"},
		{name: "no proxies: XFF ignored", remote: "192.0.2.1:1234", xff: []string{"203.0.113.9"}, want: "192.0.2.1"},
		{name: "no proxies: XFF from a 10/8 peer still ignored", remote: "10.1.2.3:80", xff: []string{"203.0.113.9"}, want: "10.1.2.3"},
		{name: "no proxies: garbage XFF ignored", remote: "192.0.2.1:1234", xff: []string{"not an address"}, want: "192.0.2.1"},
		{name: "untrusted peer: XFF ignored", remote: "192.0.2.1:1234", xff: []string{"203.0.113.9"}, trusted: trusted, want: "192.0.2.1"},
		{name: "untrusted peer: garbage XFF ignored", remote: "192.0.2.1:1234", xff: []string{"garbage"}, trusted: trusted, want: "192.0.2.1"},
		{name: "trusted peer, no XFF", remote: "10.0.0.1:1234", trusted: trusted, want: "10.0.0.1"},
		{name: "trusted peer, one client", remote: "10.0.0.1:1234", xff: []string{"203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "rightmost untrusted wins over a spoofed left entry", remote: "10.0.0.1:1234", xff: []string{"1.1.1.1, 203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "trusted hops on the right are skipped", remote: "10.0.0.1:1234", xff: []string{"1.1.1.1, 203.0.113.9, 10.9.9.9, 10.8.8.8"}, trusted: trusted, want: "203.0.113.9"},
		{name: "several headers: the last is rightmost", remote: "10.0.0.1:1234", xff: []string{"1.1.1.1", "203.0.113.9, 10.2.2.2"}, trusted: trusted, want: "203.0.113.9"},
		{name: "several headers: skipping into an earlier one", remote: "10.0.0.1:1234", xff: []string{"1.1.1.1, 203.0.113.9", "10.2.2.2"}, trusted: trusted, want: "203.0.113.9"},
		{name: "all-trusted chain: the leftmost hop", remote: "10.0.0.1:1234", xff: []string{"10.3.3.3, 10.2.2.2"}, trusted: trusted, want: "10.3.3.3"},
		{name: "spaces around entries", remote: "10.0.0.1:1234", xff: []string{"  203.0.113.9 ,10.2.2.2  "}, trusted: trusted, want: "203.0.113.9"},
		{name: "garbage entry fails closed", remote: "10.0.0.1:1234", xff: []string{"1.1.1.1, bogus"}, trusted: trusted, wantErr: ErrBadForwardedFor},
		{name: "garbage left of the client is never reached", remote: "10.0.0.1:1234", xff: []string{"bogus, 203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "garbage behind trusted hops fails closed", remote: "10.0.0.1:1234", xff: []string{"bogus, 10.2.2.2"}, trusted: trusted, wantErr: ErrBadForwardedFor},
		{name: "empty entry fails closed", remote: "10.0.0.1:1234", xff: []string{"203.0.113.9, "}, trusted: trusted, wantErr: ErrBadForwardedFor},
		{name: "entry with a port fails closed", remote: "10.0.0.1:1234", xff: []string{"203.0.113.9:80"}, trusted: trusted, wantErr: ErrBadForwardedFor},
		{name: "IPv6 peer", remote: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "IPv6 trusted peer and client", remote: "[fd00::1]:443", xff: []string{"2001:db8::7"}, trusted: trusted, want: "2001:db8::7"},
		{name: "IPv6 zone kept distinct from the bare address", remote: "[fe80::1%eth0]:443", want: "fe80::1%eth0"},
		{name: "IPv4-mapped peer is unmapped", remote: "[::ffff:192.0.2.1]:1234", want: "192.0.2.1"},
		{name: "IPv4-mapped trusted peer", remote: "[::ffff:10.0.0.1]:1234", xff: []string{"203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "IPv4-mapped XFF entry is unmapped", remote: "10.0.0.1:1234", xff: []string{"::ffff:203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "IPv4-mapped trusted hop is skipped", remote: "10.0.0.1:1234", xff: []string{"203.0.113.9, ::ffff:10.2.2.2"}, trusted: trusted, want: "203.0.113.9"},
		{name: "RemoteAddr without port", remote: "192.0.2.1", want: "192.0.2.1"},
		{name: "IPv6 RemoteAddr without port", remote: "2001:db8::1", want: "2001:db8::1"},
		{name: "trusted RemoteAddr without port", remote: "10.0.0.1", xff: []string{"203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, err := clientIP(r, tc.trusted)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.String())
			assert.False(t, got.Is4In6(), "addresses are unmapped")
		})
	}
}

func TestClientIPBadRemoteAddr(t *testing.T) {
	for _, remote := range []string{"", "pipe", "host.example:80", "300.1.1.1:80", "[::1"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		_, err := clientIP(r, nil)
		assert.Error(t, err, "%q", remote)
	}
	long := make([]byte, 500)
	for i := range long {
		long[i] = 'x'
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = string(long)
	_, err := clientIP(r, nil)
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 200, "the error quotes a bounded part of the address")
}

func TestCleanPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/b", "/b"},
		{"/b/", "/b"},
		{"//b", "/b"},
		{"///b//", "/b"},
		{"/a/../b", "/b"},
		{"/a/./b", "/a/b"},
		{"/../b", "/b"},
		{"/../../..", "/"},
		{"b", "/b"},
		{"../b", "/b"},
		{"/a/b/..", "/a"},
		{"/a\\..\\b", "/a\\..\\b"}, // backslashes are ordinary bytes in URL paths
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, cleanPath(tc.in), "%q", tc.in)
	}

	// URL.Path arrives percent-decoded: encoded dots and slashes clean
	// like their plain forms.
	for _, target := range []string{"/%2e%2e/b", "/a/%2E%2E/b", "/a%2f..%2fb", "/%2Fb", "/b%2F", "/%62"} {
		u, err := url.ParseRequestURI(target)
		require.NoError(t, err, target)
		assert.Equal(t, "/b", cleanPath(u.Path), target)
	}
}
