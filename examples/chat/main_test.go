package main

import (
	"flag"
	"io"
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
		err  bool
	}{
		{args: nil, wait: apps.DefaultChatWait},
		{args: []string{"-wait", "5s"}, wait: 5 * time.Second},
		{args: []string{"--wait=100ms"}, wait: 100 * time.Millisecond},
		{args: []string{"-wait"}, err: true},
		{args: []string{"-wait", "soon"}, err: true},
		{args: []string{"-wait=0s"}, err: true},
	} {
		wait := apps.DefaultChatWait
		fs := flag.NewFlagSet("chat", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		waitFlag(&wait)(fs)
		err := fs.Parse(tc.args)
		if tc.err {
			assert.Error(t, err, "%q", tc.args)
			continue
		}
		assert.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.wait, wait, "%q", tc.args)
	}
}
