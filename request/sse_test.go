package request

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSSEFieldLines(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"", "data: \n"},
		{"one", "data: one\n"},
		{"a\nb", "data: a\ndata: b\n"},
		{"a\r\nb\rc\n", "data: a\ndata: b\ndata: c\ndata: \n"},
		{" lead", "data:  lead\n"},
		{"\n\n", "data: \ndata: \ndata: \n"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(appendLines(nil, "data: ", tt.text)), "%q", tt.text)
	}
	assert.Equal(t, "retry: 1500\n", string(appendRetry(nil, 1500*time.Millisecond)))
	assert.Equal(t, "retry: 1\n", string(appendRetry(nil, time.Microsecond)), "never 0")
}

func TestSSERefusesFieldsThatBreakFraming(t *testing.T) {
	s := &SSE{} // validation comes before any write
	assert.ErrorIs(t, s.Send(SSEEvent{Event: "a\nb", Data: "x"}), errSSEEvent)
	assert.ErrorIs(t, s.Send(SSEEvent{Event: "a\rb", Data: "x"}), errSSEEvent)
	assert.ErrorIs(t, s.Send(SSEEvent{ID: "1\n2", Data: "x"}), errSSEID)
	assert.ErrorIs(t, s.Send(SSEEvent{ID: "1\x002", Data: "x"}), errSSEID)
}
