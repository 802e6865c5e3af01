package mapper

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSignedIDsHaveNoAgeCapUnlessAsked: with neither MaxAge nor
// MaxLifetime set, a signed ID is good for as long as its session lives
// (the options table says MaxLifetime 0 means no bound); MaxAge, when set,
// still caps it.
func TestSignedIDsHaveNoAgeCapUnlessAsked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMapper(t, Config{IdleTimeout: -1})
		s, c, err := m.Session(get("/"))
		require.NoError(t, err)
		time.Sleep(31 * 24 * time.Hour)
		got, c2, err := m.Session(get("/", c))
		require.NoError(t, err)
		assert.Same(t, s, got, "a 31-day-old cookie of a live session was refused")
		assert.Nil(t, c2)

		capped := newMapper(t, Config{IdleTimeout: -1, MaxAge: time.Hour})
		s, c, err = capped.Session(get("/"))
		require.NoError(t, err)
		time.Sleep(time.Hour + time.Second)
		got, c2, err = capped.Session(get("/", c))
		require.NoError(t, err)
		assert.NotSame(t, s, got, "MaxAge caps the signature's age")
		assert.NotNil(t, c2)
	})
}
