package mapping

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/handoff"
)

// Issue 13 #6: with the cache of verified tokens, a token that differs
// from a verified one in any byte is still refused.
func TestCachedTokensStillRefuseForgeries(t *testing.T) {
	m := newMapper(t, Config{})
	s, c, err := m.Session(get("/"))
	require.NoError(t, err)
	for range 2 { // the second lookup is a cache hit
		got, ok := m.Find(get("/", c))
		require.True(t, ok)
		assert.Same(t, s, got)
	}
	// Each altered token is answered as a full verification answers it:
	// refused, except where base64 lets the last character's unused bits
	// differ (the same signed bytes, spelled otherwise).
	verifies := func(v string) bool {
		var id []byte
		return securecookie.DecodeMulti(defaultCookieName, v, &id, m.codecs...) == nil
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="
	var altered []string
	for i := range len(c.Value) {
		for _, b := range []byte{alphabet[(strings.IndexByte(alphabet, c.Value[i])+1)%len(alphabet)], '.'} {
			altered = append(altered, c.Value[:i]+string(b)+c.Value[i+1:])
		}
	}
	altered = append(altered, c.Value+"A", c.Value[:len(c.Value)-1], "A"+c.Value, c.Value[1:])
	refused := 0
	for _, v := range altered {
		_, ok := m.Find(get("/", &http.Cookie{Name: defaultCookieName, Value: v}))
		assert.Equal(t, verifies(v), ok, "%q", v)
		if !ok {
			refused++
		}
	}
	assert.GreaterOrEqual(t, refused, len(altered)-2)

	// Another mapper, with another key, does not take it from its cache
	// of verified tokens either.
	other := newMapper(t, Config{})
	_, ok := other.Find(get("/", c))
	assert.False(t, ok)
	assert.Empty(t, other.clientID(get("/", c)))
}

// Issue 13 #6: a token verified while young is refused once its
// signature is older than MaxAge, cached or not.
func TestCachedTokensExpireWithMaxAge(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		m := newMapper(t, Config{IdleTimeout: -1, MaxAge: time.Hour})
		s, c, err := m.Session(get("/"))
		require.NoError(t, err)
		got, ok := m.Find(get("/", c)) // verified, and cached
		require.True(t, ok)
		require.Same(t, s, got)
		time.Sleep(time.Hour - time.Second)
		_, ok = m.Find(get("/", c))
		require.True(t, ok, "still young")
		time.Sleep(2 * time.Second)
		_, ok = m.Find(get("/", c))
		assert.False(t, ok, "too old, though cached")
		got, c2, err := m.Session(get("/", c))
		require.NoError(t, err)
		assert.NotSame(t, s, got)
		assert.NotNil(t, c2)
	})
}

// The cache applies to query-mode tokens as it does to cookies, and a
// verified token's session still has to be live.
func TestCachedQueryTokensReachOnlyLiveSessions(t *testing.T) {
	toks := make(chan string, 1)
	app := func(r *handoff.Handle) {
		toks <- r.SessionToken()
		loop(r)
	}
	m := newMapper(t, Config{Mode: ByQuery, Session: handoff.Options{App: app}})
	s, _, err := m.Session(get("/"))
	require.NoError(t, err)
	require.Equal(t, "ok", serve(t, s, get("/")).Body.String())
	token := <-toks
	for range 2 {
		got, ok := m.Find(get("/?sid=" + url.QueryEscape(token)))
		require.True(t, ok)
		assert.Same(t, s, got)
	}
	s.Close(nil)
	require.Eventually(t, func() bool { return m.Len() == 0 }, waitMax, tick)
	_, ok := m.Find(get("/?sid=" + url.QueryEscape(token)))
	assert.False(t, ok, "the session has ended")
}

// The cache is bounded: many tokens fill at most its fixed table, which
// has a slot for each of the server's sessions, within bounds.
func TestTokenCacheIsBounded(t *testing.T) {
	for _, tc := range []struct{ sessions, slots int }{
		{0, minTokenSlots}, {10_000, 16_384}, {16_384, 16_384}, {1 << 30, maxTokenSlots},
	} {
		c := newTokenCache(tc.sessions)
		require.Len(t, c.slots, tc.slots, "%d sessions", tc.sessions)
		if tc.slots > 16_384 {
			continue
		}
		for i := range 4 * tc.slots {
			c.put(fmt.Sprintf("%0100d", i), "id", 0)
		}
		n := 0
		for i := range c.slots {
			if c.slots[i].Load() != nil {
				n++
			}
		}
		assert.LessOrEqual(t, n, tc.slots)
		assert.Greater(t, n, tc.slots/2, "the tokens spread over the table")
	}
}

// cookieValues finds what http.Request.CookiesNamed finds.
func TestCookieValuesMatchNetHTTP(t *testing.T) {
	headers := [][]string{
		nil,
		{""},
		{"cid=abc"},
		{"cid=abc; cid=def"},
		{"  cid = abc ;other=1;cid=\"quoted\"  "},
		{"other=1", "cid=second-line; cid=x"},
		{"cid=bad\\value; cid=good"},
		{"cid=\"unbalanced; cid=ok"},
		{"cid; cid=; cid=v"},
		{"cidx=1; xcid=2; CID=3; cid=4"},
		{";;; cid=a;;"},
		{"cid=a\tb; cid=tab-free"},
		{strings.Repeat("a=1;", maxCookieCount) + "cid=too-many"},
		{strings.Repeat("a=1;", maxCookieCount-2) + "cid=just-fits"},
	}
	for _, h := range headers {
		r := get("/")
		r.Header["Cookie"] = h
		var want []string
		for _, c := range r.CookiesNamed("cid") {
			want = append(want, c.Value)
		}
		var got []string
		cookieValues(r.Header, "cid", func(v string) bool { got = append(got, v); return true })
		assert.Equal(t, want, got, "%.60q", h)
	}
}

// keyedHash is HMAC-SHA256 under its key, however many times it is used.
func TestKeyedHashIsHMAC(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	k := newKeyedHash(key)
	for _, s := range []string{"", "a", "session-key", strings.Repeat("x", 200), "a"} {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		assert.Equal(t, h.Sum(nil), k.sum(nil, s), "%q", s)
	}
}

// The signer makes exactly the tokens securecookie makes, so that
// securecookie verifies them.
func TestSignerMakesSecurecookieTokens(t *testing.T) {
	key := []byte(strings.Repeat("s", 32))
	sc := securecookie.New(key, nil)
	sc.SetSerializer(securecookie.NopEncoder{})
	sc.MaxAge(0)
	g := &signer{name: "cid", mac: newKeyedHash(key)}
	for _, id := range []string{"A", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0d3c2b1a-uuid-like-0000", strings.Repeat("z", 300)} {
		for {
			now := time.Now().Unix()
			mine, err := g.sign(id, now)
			require.NoError(t, err)
			theirs, err := sc.Encode("cid", []byte(id))
			require.NoError(t, err)
			if time.Now().Unix() != now {
				continue // a second boundary fell between them
			}
			assert.Equal(t, theirs, mine, "%q", id)
			var got []byte
			require.NoError(t, sc.Decode("cid", mine, &got))
			assert.Equal(t, id, string(got))
			break
		}
	}
	_, err := g.sign(strings.Repeat("x", maxTokenLength), time.Now().Unix())
	assert.Error(t, err, "too long for the verifier")

	// A mapper whose signing key encrypts leaves it to securecookie, and
	// its tokens verify too.
	enc := newMapper(t, Config{Keys: []Key{{Hash: key, Block: []byte(strings.Repeat("b", 16))}}})
	require.Nil(t, enc.signer)
	s, c, err := enc.Session(get("/"))
	require.NoError(t, err)
	got, ok := enc.Find(get("/", c))
	require.True(t, ok)
	assert.Same(t, s, got)
}
