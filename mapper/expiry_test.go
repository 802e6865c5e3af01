package mapper

import (
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/securecookie"
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

// TestPathModeBrowserIDExpiresWithItsSessions: in ByCookie|ByPath (and
// ByQuery|ByPath) the signed ID names the browser; once every session of
// that browser has ended, the ID is dead like a cookie-mode ID: a new path
// gets a fresh ID, so a stolen cookie does not outlive the idle timeout.
func TestPathModeBrowserIDExpiresWithItsSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMapper(t, Config{Mode: ByCookie | ByPath, IdleTimeout: time.Minute})
		_, c, err := m.Session(get("/a"))
		require.NoError(t, err)
		_, c2, err := m.Session(get("/b", c))
		require.NoError(t, err)
		assert.Nil(t, c2, "a live browser keeps its ID on a new path")

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		require.Zero(t, m.Len(), "both sessions reaped")
		_, c3, err := m.Session(get("/c", c))
		require.NoError(t, err)
		require.NotNil(t, c3, "the ID of a browser with no live session was accepted again")
		assert.NotEqual(t, c.Value, c3.Value)
		_, ok := m.Find(get("/c", c))
		assert.False(t, ok)
	})
}

func TestQueryPathModeTokenExpiresWithItsSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMapper(t, Config{Mode: ByQuery | ByPath, IdleTimeout: time.Minute})
		_, _, err := m.Session(get("/a"))
		require.NoError(t, err)
		var tok string
		for k := range m.table {
			tok, err = securecookie.EncodeMulti(DefaultQueryParam, []byte(k[len("/a\x00"):]), m.codecs...)
			require.NoError(t, err)
		}
		_, _, err = m.Session(get("/b?sid=" + url.QueryEscape(tok)))
		require.NoError(t, err)
		_, ok := m.Find(get("/b?sid=" + url.QueryEscape(tok)))
		require.True(t, ok, "a live token opens a new path")

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		require.Zero(t, m.Len())
		_, _, err = m.Session(get("/c?sid=" + url.QueryEscape(tok)))
		require.NoError(t, err)
		_, ok = m.Find(get("/c?sid=" + url.QueryEscape(tok)))
		assert.False(t, ok, "the token of a browser with no live session was accepted again")
	})
}
