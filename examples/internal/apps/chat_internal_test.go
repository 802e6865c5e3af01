package apps

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/continuity-go/continuity"
)

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
