package redistore

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/journal"
)

var codecCases = []journal.Entry{
	{},
	{Kind: journal.Input, Step: 0, Method: "GET", Path: "/"},
	{Kind: journal.Input, Step: 7, Method: "POST", Path: "/a b", Query: "x=1&y=%00",
		Form: url.Values{"b": {"2", ""}, "a": {"1"}, "": {"empty key"}, "none": {}}},
	{Kind: journal.Once, Step: 3, Name: "charge", Value: []byte(`{"id":"ch_1"}`)},
	{Kind: journal.Once, Step: 3, Name: "charge", Err: "declined\x00\xff"},
	{Kind: journal.Barrier, Step: 1 << 40},
	{Kind: journal.Rewind, Step: -1},
	{Kind: journal.Kind(200), Step: 2},
}

func TestEntryCodecRoundTrip(t *testing.T) {
	for _, e := range codecCases {
		b := encodeEntry(&e)
		got, err := decodeEntry(b)
		require.NoError(t, err, "%+v", e)
		assert.Equal(t, e, got)
		assert.Equal(t, b, encodeEntry(&got), "the encoding is deterministic (sorted form keys)")
		// Every proper prefix is malformed, and so is a trailing byte.
		for i := range b {
			_, err := decodeEntry(b[:i])
			require.Error(t, err, "prefix %d of %q", i, b)
		}
		_, err = decodeEntry(append(b, 0))
		require.Error(t, err)
	}
	// An empty Form or Value comes back nil.
	got, err := decodeEntry(encodeEntry(&journal.Entry{Form: url.Values{}, Value: []byte{}}))
	require.NoError(t, err)
	assert.Nil(t, got.Form)
	assert.Nil(t, got.Value)
}

func TestEntryCodecRefusesHugeCounts(t *testing.T) {
	// A form of 2^62 keys in 12 bytes must not allocate them.
	b := []byte{entryVersion, byte(journal.Input), 0, 0, 0, 0, 0, 0, 0}
	b = append(b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40)
	_, err := decodeEntry(b)
	require.ErrorIs(t, err, errMalformed)
}

func FuzzEntryCodec(f *testing.F) {
	for _, e := range codecCases {
		f.Add(encodeEntry(&e))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		again, err := decodeEntry(encodeEntry(&e))
		require.NoError(t, err)
		assert.Equal(t, e, again)
	})
}

// go-redis resends a command whose reply was lost (the connection broke
// after Redis ran it). The resent append, with the same call, succeeds
// without appending twice; another call for that position conflicts.
func TestAppendRetryIsIdempotent(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	opt, err := redis.ParseURL(srv.URL())
	require.NoError(t, err)
	c := redis.NewClient(opt)
	defer c.Close()
	s, err := NewJournalStore(c, JournalOptions{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	k, err := s.keys("s")
	require.NoError(t, err)
	e := journal.Entry{Kind: journal.Barrier}
	args := func(seq uint64, call string) []any {
		return []any{seq, encodeEntry(&e), e.Size(), s.maxEntries, s.maxBytes, ms(s.ttl), "", 0, call}
	}
	require.NoError(t, appendScript.Run(ctx, c, k.list(), args(1, "call1")...).Err())
	require.NoError(t, appendScript.Run(ctx, c, k.list(), args(1, "call1")...).Err(), "the resent call")
	err = appendScript.Run(ctx, c, k.list(), args(1, "call2")...).Err()
	require.ErrorIs(t, scriptError(err, "s"), journal.ErrConflict)
	require.NoError(t, appendScript.Run(ctx, c, k.list(), args(2, "call2")...).Err())
	err = appendScript.Run(ctx, c, k.list(), args(1, "call1")...).Err()
	require.ErrorIs(t, scriptError(err, "s"), journal.ErrConflict, "only the last append can be resent")
	n, err := c.XLen(ctx, k.stream).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
}
