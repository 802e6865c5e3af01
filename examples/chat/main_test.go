package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/examples/internal/apps"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWaitFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		wait time.Duration
		rest []string
		err  bool
	}{
		{args: nil, wait: apps.DefaultChatWait},
		{args: []string{"-wait", "5s", "-addr", ":0"}, wait: 5 * time.Second, rest: []string{"-addr", ":0"}},
		{args: []string{"-idle", "1m", "--wait=100ms"}, wait: 100 * time.Millisecond, rest: []string{"-idle", "1m"}},
		{args: []string{"-addr", ":0", "--", "-wait", "1s"}, wait: apps.DefaultChatWait, rest: []string{"-addr", ":0", "--", "-wait", "1s"}},
		{args: []string{"-wait"}, err: true},
		{args: []string{"-wait", "soon"}, err: true},
		{args: []string{"-wait=0s"}, err: true},
	} {
		wait, rest, err := waitFlag(tc.args)
		if tc.err {
			assert.Error(t, err, "%q", tc.args)
			continue
		}
		assert.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.wait, wait, "%q", tc.args)
		assert.Equal(t, tc.rest, rest, "%q", tc.args)
	}
}
