package redistore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLeaseWait(t *testing.T) {
	poll := 50 * time.Millisecond
	assert.Equal(t, time.Millisecond, leaseWait(poll, 0), "under a millisecond left (PTTL 0): look again just after it")
	assert.Equal(t, 11*time.Millisecond, leaseWait(poll, 10*time.Millisecond), "just past the lease's end")
	assert.Equal(t, poll, leaseWait(poll, time.Minute), "a long lease: look every poll, for a release")
}
