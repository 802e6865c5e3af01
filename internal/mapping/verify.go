package mapping

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"hash/maphash"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Verifying a signed session token costs a base64 decode, an HMAC-SHA256
// and a timestamp check: on a keep-alive step of the counter it was the
// largest single cost of the mapper. A browser sends the same token with
// every request, so the mapper remembers the tokens it has verified.
//
// The cache cannot weaken the check:
//   - it is consulted by the whole token: a token that differs from a
//     verified one in any byte is not found, and is verified in full (and
//     so a forged or altered token still fails);
//   - only tokens that verified in full are stored, with the ID they
//     carry; the mapper's keys and the name bound into the signature never
//     change, so a token good once stays good until its signature expires
//     (MaxAge), which is checked on every hit;
//   - lookups hash the token with a secret seed and compare the whole
//     token in constant time, so neither the slot an attacker's token
//     lands in nor the time the comparison takes depends on how much of it
//     matches a stored one;
//   - it is bounded: a fixed table of slots, each holding the last token
//     stored there, as many as the server's MaxSessions (a power of two,
//     at least 4,096 and at most 1<<20), so that a server whose browsers
//     are all active finds most of their tokens. A miss costs what
//     verification always cost.
//
// Whether a token leads to a session is decided afterwards, as before,
// by the session table: an ID whose session has ended, been renewed or
// been evicted finds nothing there, cached or not.

// The bounds on the number of slots. An empty slot is a pointer; a full
// one adds a record of about 200 bytes.
const (
	minTokenSlots = 1 << 12
	maxTokenSlots = 1 << 20
)

// A tokenCache remembers verified tokens. It is safe for concurrent use
// without a lock: each slot is an atomic pointer to an immutable record.
type tokenCache struct {
	seed  maphash.Seed
	mask  uint64
	slots []atomic.Pointer[verifiedToken]
}

// verifiedToken is one verified token and the ID it carries.
type verifiedToken struct {
	hash    uint64
	token   string
	id      string
	expires int64 // Unix seconds after which the signature is too old; 0 for never
}

// newTokenCache makes a cache for about n browsers.
func newTokenCache(n int) *tokenCache {
	size := minTokenSlots
	for size < n && size < maxTokenSlots {
		size <<= 1
	}
	return &tokenCache{seed: maphash.MakeSeed(), mask: uint64(size - 1), slots: make([]atomic.Pointer[verifiedToken], size)}
}

// get returns the ID that token carries if it was verified and its
// signature is still within its age bound.
func (c *tokenCache) get(token string) (string, bool) {
	h := maphash.String(c.seed, token)
	v := c.slots[h&c.mask].Load()
	if v == nil || v.hash != h || subtle.ConstantTimeCompare([]byte(v.token), []byte(token)) != 1 {
		return "", false
	}
	if v.expires != 0 && time.Now().Unix() > v.expires {
		return "", false
	}
	return v.id, true
}

// put remembers that token verified and carries id. maxAge is the
// signature's age bound in seconds (0 for none); the token's own
// timestamp, which verification has just vouched for, dates it.
func (c *tokenCache) put(token, id string, maxAge int64) {
	var expires int64
	if maxAge > 0 {
		signed, ok := signedAt(token)
		if !ok {
			return // not the format verified just now: do not cache it
		}
		expires = signed + maxAge
	}
	h := maphash.String(c.seed, token)
	c.slots[h&c.mask].Store(&verifiedToken{
		hash:  h,
		token: strings.Clone(token), // not a slice of the request's Cookie header
		id:    id,
		// securecookie refuses a timestamp t when t < now-maxAge.
		expires: expires,
	})
}

// signedAt is the timestamp inside a securecookie token: its base64 form
// decodes to "date|value|mac".
func signedAt(token string) (int64, bool) {
	b, err := base64.URLEncoding.DecodeString(token)
	if err != nil {
		return 0, false
	}
	date, _, ok := bytes.Cut(b, []byte("|"))
	if !ok {
		return 0, false
	}
	t, err := strconv.ParseInt(string(date), 10, 64)
	return t, err == nil
}

// maxCookieCount is net/http's bound on the cookies of one request
// (GODEBUG httpcookiemaxnum's default): a request with more has none.
const maxCookieCount = 3000

// cookieValues calls f with the value of each cookie named name in h, in
// order, as [http.Request.CookiesNamed] would return them, until f
// returns false, without allocating.
func cookieValues(h http.Header, name string, f func(string) bool) {
	lines := h["Cookie"]
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxCookieCount {
		return
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			k, v, _ := strings.Cut(part, "=")
			if textproto.TrimString(k) != name {
				continue // name is a valid token (New checks it), so this skips what net/http skips
			}
			if v, ok := cookieValue(v); ok && !f(v) {
				return
			}
		}
	}
}

// cookieValue is net/http's parseCookieValue: surrounding double quotes
// are stripped, and a value with a byte a cookie value may not hold is
// skipped.
func cookieValue(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return "", false
		}
	}
	return raw, true
}

// A keyedHash computes HMAC-SHA256 under one key, reusing its hashers:
// hmac.New costs two SHA-256 blocks and half a kilobyte of garbage, and
// the mapper hashes every new session's key into its log ID, signs its
// token (and, with Identify, hashes every request's identity).
type keyedHash struct{ pool sync.Pool }

// macState is a hasher and a scratch buffer for what it hashes.
type macState struct {
	h   hash.Hash
	buf [256]byte
}

func newKeyedHash(key []byte) *keyedHash {
	return &keyedHash{pool: sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, key)} }}}
}

func (k *keyedHash) get() *macState {
	st := k.pool.Get().(*macState)
	st.h.Reset()
	return st
}

// sum appends the HMAC of s to dst.
func (k *keyedHash) sum(dst []byte, s string) []byte {
	st := k.get()
	st.h.Write(append(st.buf[:0], s...))
	dst = st.h.Sum(dst)
	k.pool.Put(st)
	return dst
}

// A signer makes session tokens as securecookie.Encode makes them for a
// codec without a Block key and with the NopEncoder (the mapper's), with
// a pooled HMAC: the token is base64url("date|base64url(id)|mac"), mac
// being the HMAC-SHA256 of "name|date|base64url(id)". securecookie still
// verifies every token; this only spares each new session about a
// kilobyte of garbage and two SHA-256 blocks.
type signer struct {
	name string // bound into the signature: the cookie's or parameter's name
	mac  *keyedHash
}

// maxTokenLength is the longest token the mapper accepts (its codecs'
// MaxLength).
const maxTokenLength = 1024

// sign returns the token for id signed at Unix time now.
func (g *signer) sign(id string, now int64) (string, error) {
	st := g.mac.get()
	defer g.mac.pool.Put(st)
	b := append(st.buf[:0], g.name...)
	b = append(b, '|')
	b = strconv.AppendInt(b, now, 10)
	b = append(b, '|')
	b = base64.URLEncoding.AppendEncode(b, []byte(id))
	st.h.Write(b)
	b = append(b, '|')
	b = st.h.Sum(b)
	token := base64.URLEncoding.EncodeToString(b[len(g.name)+1:])
	if len(token) > maxTokenLength {
		return "", errors.New("the signed session ID is too long")
	}
	return token, nil
}
