package continuity_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

func hexKey(b byte, n int) string { return strings.Repeat(fmt.Sprintf("%02x", b), n) }

func TestReadKeysParsesOneKeyPerLine(t *testing.T) {
	in := "# deployment keys\n\n" +
		hexKey(1, 32) + "\n" +
		"  " + hexKey(2, 64) + "\t" + hexKey(3, 16) + "  # old key, with a block key\n" +
		strings.ToUpper(hexKey(0xab, 32)) + " " + hexKey(4, 32) + "\r\n"
	keys, err := continuity.ReadKeys(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, keys, 3)
	assert.Equal(t, []byte(strings.Repeat("\x01", 32)), keys[0].Hash)
	assert.Nil(t, keys[0].Block)
	assert.Len(t, keys[1].Hash, 64)
	assert.Equal(t, []byte(strings.Repeat("\x03", 16)), keys[1].Block)
	assert.Equal(t, []byte(strings.Repeat("\xab", 32)), keys[2].Hash)
	assert.Len(t, keys[2].Block, 32)
}

func TestReadKeysRefusesBadLines(t *testing.T) {
	secret := hexKey(0x5e, 16) // never echoed in an error
	cases := []struct{ name, in, want string }{
		{"empty", "", "no key found"},
		{"only comments", "# nothing\n\n   # here\n", "no key found"},
		{"short hash", hexKey(1, 32) + "\n" + secret + "\n", "keys line 2: hash key is 16 bytes (32 hex digits); want 32 or 64 bytes"},
		{"odd digits", hexKey(1, 32) + "0\n", "keys line 1: hash key: odd number of hex digits (65)"},
		{"not hex", "zz" + hexKey(1, 31) + "\n", `keys line 1: hash key: not hex: invalid character 'z'`},
		{"bad block", hexKey(1, 32) + " " + hexKey(2, 20) + "\n", "keys line 1: block key is 20 bytes (40 hex digits); want 16, 24 or 32 bytes"},
		{"three fields", hexKey(1, 32) + " " + hexKey(2, 16) + " " + hexKey(3, 16), "keys line 1: 3 fields"},
		{"long line", strings.Repeat("a", 10000), "longer than 4096 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys, err := continuity.ReadKeys(strings.NewReader(c.in))
			require.Error(t, err)
			assert.Nil(t, keys)
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

func TestLoadKeysFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	require.NoError(t, os.WriteFile(path, []byte(hexKey(7, 32)+"\n"), 0o600))
	keys, err := continuity.LoadKeysFile(path)
	require.NoError(t, err)
	require.Len(t, keys, 1)

	_, err = continuity.LoadKeysFile(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, os.WriteFile(path, []byte("abc\n"), 0o600))
	_, err = continuity.LoadKeysFile(path)
	require.ErrorContains(t, err, "keys line 1")
	require.ErrorContains(t, err, path)
}

// TestServersSharingAKeysFileAcceptEachOthersCookies: a cookie signed by
// node A names the session of that ID on node B when both read the same
// keys file, and nothing on a node with other keys. Every node mints the
// same first ID (NewID), standing in for the session B would take over
// from a shared store: the test isolates the signature check.
func TestServersSharingAKeysFileAcceptEachOthersCookies(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "keys")
	// B verifies with a rotated list: its own new key first, A's below.
	rotated := filepath.Join(dir, "keys-rotated")
	other := filepath.Join(dir, "keys-other")
	require.NoError(t, os.WriteFile(shared, []byte("# A signs with this\n"+hexKey(0x11, 32)+"\n"), 0o600))
	require.NoError(t, os.WriteFile(rotated, []byte(hexKey(0x22, 32)+"\n"+hexKey(0x11, 32)+" # previous\n"), 0o600))
	require.NoError(t, os.WriteFile(other, []byte(hexKey(0x33, 32)+"\n"), 0o600))
	node := func(path string) string {
		keys, err := continuity.LoadKeysFile(path)
		require.NoError(t, err)
		var minted atomic.Int32
		_, ts := start(t, counter, &continuity.Options{
			Keys: keys,
			NewID: func() (string, error) {
				if n := minted.Add(1); n > 1 {
					return fmt.Sprintf("fresh-%d", n), nil
				}
				return "the-one-session", nil
			},
		})
		return ts.URL
	}
	a, b, c := node(shared), node(rotated), node(other)

	// A browser starts the session "the-one-session" on B and on C.
	for _, url := range []string{b, c} {
		br := browser(t)
		for _, want := range []string{"1", "2"} {
			_, body := get(t, br, url)
			require.Equal(t, want, body)
		}
	}

	// Another browser gets A's cookie for the same ID...
	br := browser(t)
	_, body := get(t, br, a)
	require.Equal(t, "1", body)
	cookie := br.Jar.Cookies(mustURL(t, a))
	require.Len(t, cookie, 1)

	send := func(url string) (string, bool) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		req.AddCookie(cookie[0])
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(body), resp.Header.Get("Set-Cookie") != ""
	}
	// ...which B, verifying with A's key, takes for that session: it
	// carries on at 3, and sets no new cookie.
	body, newCookie := send(b)
	assert.Equal(t, "3", body)
	assert.False(t, newCookie)
	// C, with other keys, refuses it: a fresh session, and a new cookie.
	body, newCookie = send(c)
	assert.Equal(t, "1", body)
	assert.True(t, newCookie)
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}
