package handoff

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testJournal(t testing.TB) *journalState {
	t.Helper()
	s := NewSession(t.Context(), Options{App: func(*Handle) {}, LogID: "test"})
	return s.newJournal(nil, 0)
}

func TestStepTokenRoundTrip(t *testing.T) {
	j := testJournal(t)
	for _, st := range []stepToken{
		{step: -1},
		{step: 0},
		{step: 7, branch: 3, gen: 2},
		{step: 1 << 30, branch: 1<<32 - 1, gen: 1<<32 - 1, view: true},
	} {
		tok := j.sign(st)
		assert.LessOrEqual(t, len(tok), maxTokenLen)
		got, ok := j.verify(tok)
		require.True(t, ok, tok)
		assert.Equal(t, st, got)
		b, ok := branchOf(tok)
		assert.True(t, ok)
		assert.Equal(t, st.branch, b)
	}
	other := testJournal(t) // another session: another nonce and key
	_, ok := other.verify(j.sign(stepToken{step: 1}))
	assert.False(t, ok, "another session's token")

	tok := j.sign(stepToken{step: 5})
	for i := range tok {
		b := []byte(tok)
		b[i] = "AB"[(b[i]-'A'+1)%2&1]
		if string(b) == tok {
			b[i] = 'C'
		}
		_, ok := j.verify(string(b))
		assert.False(t, ok, "changed at %d: %s", i, b)
	}
	for _, bad := range []string{"", "A", "!!!!", strings.Repeat("A", 200), tok[:len(tok)-1], tok + "A"} {
		_, ok := j.verify(bad)
		assert.False(t, ok, bad)
	}
}

func FuzzDecodeToken(f *testing.F) {
	j := testJournal(f)
	f.Add(j.sign(stepToken{step: 3, branch: 1, gen: 2}))
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, k string) {
		var buf [maxTokenLen]byte
		st, payload, mac, ok := decodeToken(k, buf[:])
		if !ok {
			return
		}
		if len(mac) != macLen || st.step < -1 {
			t.Fatalf("decoded %q to %+v, %d-byte MAC", k, st, len(mac))
		}
		_ = payload
		j.verify(k)
	})
}
