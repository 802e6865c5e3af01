package apps

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/continuity-go/continuity"
)

// FuzzAppendJSONString checks the chat's JSON escaper against
// encoding/json byte for byte (go test -fuzz FuzzAppendJSONString).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{
		"", "plain", `"quoted" \back\slash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f",
		"\b\f", "<script>&amp;</script>", "é ü 日本語 🙂", "line\u2028para\u2029", "bad \xff\xfe utf-8",
		"\xed\xa0\x80 surrogate", "trailing \xe2\x82",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestChatMessageJSON(t *testing.T) {
	at := time.Date(2026, 11, 22, 16, 4, 5, 600, time.FixedZone("X", 3600))
	m, err := newChatMessage(" <A> ", "hi \"you\"", at)
	if err != nil {
		t.Fatal(err)
	}
	got := string(appendJSON(nil, continuity.Event[chatMessage]{Version: 7, Value: m}))
	want := `{"id":7,"name":"\u003cA\u003e","message":"hi \"you\"","time":"2026-11-22T15:04:05Z"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		t.Fatal(err)
	}
}
