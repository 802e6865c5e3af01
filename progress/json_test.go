package progress

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSnapshotJSON(t *testing.T) {
	s := Snapshot{Name: "imp\"ort", ID: "x<1>", Total: 200, Count: -3, Messages: []string{"a\nb", "✓"},
		Status: "line\u2028", InProgress: true, Version: 1 << 63}
	b := appendSnapshot([]byte("prefix:"), &s)
	require.True(t, strings.HasPrefix(string(b), "prefix:"))
	var got map[string]any
	d := json.NewDecoder(strings.NewReader(string(b[len("prefix:"):])))
	d.UseNumber()
	require.NoError(t, d.Decode(&got))
	assert.Equal(t, map[string]any{
		"name": "imp\"ort", "progress_id": "x<1>", "total": json.Number("200"), "count": json.Number("-3"),
		"messages": []any{"a\nb", "✓"}, "in_progress": true, "status": "line\u2028",
		"version": json.Number("9223372036854775808"),
	}, got)
	// The field names and order are part of the format.
	assert.Equal(t, `{"name":"w","total":100,"count":0,"messages":[],"in_progress":false,"status":"","version":0}`,
		string(appendSnapshot(nil, &Snapshot{Name: "w", Total: 100})))
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"work", "a/b", "..", ".", "a.b", "x\x00", "\xff", "ü", "a\\b", "\u0085", strings.Repeat("n", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := meterKey(s, "")
		if !ValidName(s) {
			require.ErrorIs(t, err, ErrBadName)
			return
		}
		require.NoError(t, err)
		require.Equal(t, s, k)
		require.NotEmpty(t, s)
		require.LessOrEqual(t, len(s), MaxNameLen)
		require.True(t, utf8.ValidString(s))
		require.NotContains(t, s, "/")
		require.NotContains(t, s, "\\")
		require.NotContains(t, s, "..")
		for _, r := range s {
			require.False(t, r < 0x20 || r == 0x7f, "control character in %q", s)
		}
		// A valid name and a valid ID never make the key of another pair.
		k2, err := meterKey(s, s)
		require.NoError(t, err)
		require.Equal(t, s+"/"+s, k2)
	})
}
