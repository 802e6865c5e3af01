package handoff

import (
	"crypto/hmac"
	"encoding/base32"
	"encoding/binary"
	"html"
	"net/http"
	"net/url"
	"strings"
)

// TokenParam is the query or form parameter that carries a step token.
const TokenParam = "k"

// Step tokens. A token names a step of one session's flow: the step's
// index, the branch (the forked tab's session, 0 for the browser's own),
// the timeline (bumped by each rewind, so that a step reached again after
// going back has a new token) and whether it is a view link (it shows the
// step and never feeds it input). They travel as
//
//	base32(uvarint(step+1) ‖ uvarint(branch<<1 | view) ‖ uvarint(timeline) ‖ MAC)
//
// where MAC is the first 96 bits of HMAC-SHA256(key, nonce ‖ the rest):
// key is the server's token key, nonce a random value of the session (its
// branches share it), so a token cannot be forged, nor carried to another
// session. Tokens hold no state; they are signed, not secret.
const (
	macLen      = 12 // bytes of MAC kept: 96 bits
	maxTokenLen = 64 // characters; longer is not a token
)

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// stepToken is a decoded step token.
type stepToken struct {
	step   int
	branch uint32
	gen    uint32
	view   bool
}

// sum returns HMAC(key, nonce ‖ p). It reuses the session's hash: tokens
// are made and checked on the session goroutine only.
func (j *journalState) sum(p []byte) []byte {
	j.mac.Reset()
	j.mac.Write(j.nonce[:])
	j.mac.Write(p)
	return j.mac.Sum(j.sumBuf[:0])
}

// sign makes the token for t.
func (j *journalState) sign(t stepToken) string {
	var buf [3*binary.MaxVarintLen64 + macLen]byte
	n := binary.PutUvarint(buf[:], uint64(t.step+1))
	b := uint64(t.branch) << 1
	if t.view {
		b |= 1
	}
	n += binary.PutUvarint(buf[n:], b)
	n += binary.PutUvarint(buf[n:], uint64(t.gen))
	n += copy(buf[n:], j.sum(buf[:n])[:macLen])
	var out [maxTokenLen]byte
	tokenEncoding.Encode(out[:], buf[:n])
	return string(out[:tokenEncoding.EncodedLen(n)])
}

// decodeToken splits a token into its fields and the MAC, without
// checking the MAC.
func decodeToken(k string, buf []byte) (t stepToken, payload, mac []byte, ok bool) {
	if len(k) > maxTokenLen {
		return t, nil, nil, false
	}
	n, err := tokenEncoding.Decode(buf, []byte(k))
	if err != nil || !canonical(k, buf[:n]) {
		return t, nil, nil, false
	}
	p := buf[:n]
	step, a := binary.Uvarint(p)
	if a <= 0 || step > 1<<31 {
		return t, nil, nil, false
	}
	b, c := binary.Uvarint(p[a:])
	if c <= 0 || b > 1<<33 {
		return t, nil, nil, false
	}
	gen, d := binary.Uvarint(p[a+c:])
	if d <= 0 || gen > 1<<32-1 {
		return t, nil, nil, false
	}
	end := a + c + d
	if len(p)-end != macLen {
		return t, nil, nil, false
	}
	t = stepToken{step: int(step) - 1, branch: uint32(b >> 1), view: b&1 == 1, gen: uint32(gen)}
	return t, p[:end], p[end:], true
}

// canonical reports whether k is the encoding of p, and not another
// spelling the decoder also accepts (unused trailing bits set, or a
// character too many): a token has one form, so that a resubmission is
// recognised by its input.
func canonical(k string, p []byte) bool {
	var out [maxTokenLen + 8]byte
	if tokenEncoding.EncodedLen(len(p)) != len(k) {
		return false
	}
	tokenEncoding.Encode(out[:], p)
	return string(out[:len(k)]) == k
}

// verify decodes k and checks its MAC in constant time.
func (j *journalState) verify(k string) (stepToken, bool) {
	var buf [maxTokenLen]byte
	t, payload, mac, ok := decodeToken(k, buf[:])
	if !ok || !hmac.Equal(j.sum(payload)[:macLen], mac) {
		return stepToken{}, false
	}
	return t, true
}

// branchOf returns the branch a token names, unchecked: the branch
// checks the token itself.
func branchOf(k string) (uint32, bool) {
	var buf [maxTokenLen]byte
	t, _, _, ok := decodeToken(k, buf[:])
	return t.branch, ok
}

// tokenOf returns the step token a request carries, or "".
func tokenOf(r *http.Request) string {
	if r.Form != nil {
		if vs := r.Form[TokenParam]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	return r.URL.Query().Get(TokenParam)
}

// token is the current step's token, made once per step.
func (j *journalState) token() string {
	if j.tok == "" {
		j.tok = j.sign(stepToken{step: j.step, branch: j.branch, gen: j.gen})
	}
	return j.tok
}

// StepToken returns the current step's token, marking the step
// tokenized; request.Request.StepToken documents it.
func (r *Handle) StepToken() string {
	if r.dead {
		return ""
	}
	j := r.journal()
	j.tokenized = true
	if r.ex != nil && r.header.Get("Cache-Control") == "" {
		// A page with a step token is made for the back button: the
		// browser may keep it (private: never a shared cache) but asks
		// the server before reusing it (no-cache). The server's no-store
		// would make Back fetch the current step again instead.
		r.Header().Set("Cache-Control", "private, no-cache")
	}
	return j.token()
}

// StepField returns the hidden form input carrying the current step's
// token, after one carrying the session in ByQuery mode; see
// request.Request.StepField.
func (r *Handle) StepField() string {
	tok := r.StepToken()
	field := `<input type="hidden" name="` + TokenParam + `" value="` + tok + `">`
	if param, sid := r.QuerySession(); param != "" {
		field = `<input type="hidden" name="` + html.EscapeString(param) + `" value="` + html.EscapeString(sid) + `">` + field
	}
	return field
}

// StepURL returns u with the current step's token in its query, and the
// session too in ByQuery mode if u lacks it; see request.Request.StepURL.
func (r *Handle) StepURL(u string) string {
	return r.withToken(u, r.StepToken())
}

// withToken adds tok (and the ByQuery session) to u's query.
func (r *Handle) withToken(u, tok string) string {
	pu, err := url.Parse(u)
	if err != nil {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		return u + sep + TokenParam + "=" + tok
	}
	q := pu.Query()
	q.Set(TokenParam, tok)
	if param, sid := r.QuerySession(); param != "" && !q.Has(param) {
		q.Set(param, sid)
	}
	pu.RawQuery = q.Encode()
	return pu.String()
}

// callbackToken is the token of the next callback bound in this step:
// derived, not random, so that a replayed step binds the same ones.
func (j *journalState) callbackToken() string {
	var buf [1 + 2*binary.MaxVarintLen64]byte
	buf[0] = 'c'
	n := 1 + binary.PutUvarint(buf[1:], uint64(j.step+1))
	n += binary.PutUvarint(buf[n:], uint64(j.cbs))
	j.cbs++
	var out [32]byte
	tokenEncoding.Encode(out[:], j.sum(buf[:n])[:16])
	return string(out[:tokenEncoding.EncodedLen(16)])
}
