package main

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The log watch counts session ends from the lines the examples' logger
// writes: one per end, or a summary with repeated=N for those left out.
func TestLogWatchCountsSessionEnds(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	for range 3 {
		log.Info("session ended", "session", "k1", "reason", errors.New("continuity: session evicted at the session cap").Error())
	}
	log.Info("session ended", "reason", "continuity: session evicted at the session cap", "repeated", 1234, "window", 10*time.Second)
	log.Info("session ended", "session", "k2", "reason", "continuity: server shutdown")
	log.Info("something else", "reason", "continuity: server shutdown")

	lw := newLogWatch()
	// In pieces, as a pipe delivers it.
	b := buf.Bytes()
	for len(b) > 0 {
		n := min(len(b), 37)
		_, err := lw.Write(b[:n])
		require.NoError(t, err)
		b = b[n:]
	}
	assert.Equal(t, map[string]int64{"evicted": 3 + 1234, "shutdown": 1}, lw.sessionEnds())
	bytes, lines := lw.counts()
	assert.EqualValues(t, buf.Len(), bytes)
	assert.EqualValues(t, 6, lines)
}

func TestQuantile(t *testing.T) {
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.Equal(t, time.Duration(5), quantile(ds, 0.5))
	assert.Equal(t, time.Duration(10), quantile(ds, 0.99))
	assert.Equal(t, time.Duration(7), quantile([]time.Duration{7}, 0.99))
}

func TestTallyOrdersStatusesFirst(t *testing.T) {
	ta := newTally()
	ta.add("timeout", 2)
	ta.add("503", 1)
	ta.add("200", 1234)
	ta.add("429", 5)
	assert.Equal(t, "1,234× 200, 5× 429, 1× 503, 2× timeout", ta.String())
	assert.EqualValues(t, 1242, ta.total())
}

func TestBotAddresses(t *testing.T) {
	e := &env{botAddrs: 1}
	e.loopback()
	assert.Equal(t, e.attacker, e.bot(7))
	e.botAddrs = 300
	assert.Equal(t, "127.0.1.0", e.bot(0).String())
	assert.Equal(t, "127.0.2.43", e.bot(299).String())
	assert.Equal(t, "127.0.1.0", e.bot(300).String())
}
