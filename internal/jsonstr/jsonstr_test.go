package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var jsonStrings = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\b\f\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "\u2028\u2029", "héllo wörld ✓ 😀", "\xff\xfe bad \xc3",
	"\xed\xa0\x80 surrogate", "a\u00a0b", "</", "\ufffd", strings.Repeat("x", 1000), "trailing \xe2\x82",
}

// Append must produce exactly what encoding/json produces.
func TestAppendMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonStrings {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(Append(nil, s)), "%q", s)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Append(nil, s)
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		var back string
		require.NoError(t, json.Unmarshal(got, &back))
		if utf8.ValidString(s) {
			require.Equal(t, s, back)
		}
	})
}
