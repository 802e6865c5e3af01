// Package barecounter is the baseline that the counter benchmarks (the
// root package's and bench/counter) measure continuity against: a
// hand-written net/http handler doing the same cookie work as a
// continuity server. Parked is the same handler with a goroutine per
// browser, the least a goroutine-per-session server does.
package barecounter

import (
	"crypto/rand"
	"io"
	"net/http"
	"sync"

	"github.com/gorilla/securecookie"
)

// A Handler counts each browser's requests as continuity's counter
// example does, without a session goroutine: an HMAC-signed cookie
// verified on every request (gorilla/securecookie, as the mapper uses it,
// with no age bound, the mapper's default), a map lookup under a mutex,
// the page and headers a continuity server sends. A new browser gets a
// random ID (130 bits, as the mapper mints) in a signed cookie cid and a
// map entry.
type Handler struct {
	page  func(w io.Writer, n int)
	ids   ids
	mu    sync.Mutex
	count map[string]int
}

// New is a Handler printing page with the browser's count, 1 on its first
// request.
func New(page func(w io.Writer, n int)) *Handler {
	return &Handler{page: page, ids: newIDs(), count: make(map[string]int)}
}

// ServeHTTP counts the request and prints the page.
func (c *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := c.ids.read(r)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "400 bad request", http.StatusBadRequest)
		return
	}
	h := w.Header()
	c.mu.Lock()
	n, ok := c.count[id]
	if !ok {
		var err error
		if id, err = c.ids.mint(h); err != nil {
			c.mu.Unlock()
			http.Error(w, "500 internal server error", http.StatusInternalServerError)
			return
		}
	}
	n++
	c.count[id] = n
	c.mu.Unlock()
	setHeaders(h)
	c.page(w, n)
}

// Live is the number of browsers counted.
func (c *Handler) Live() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.count)
}

// ids reads and mints the signed browser IDs.
type ids struct{ codec *securecookie.SecureCookie }

func newIDs() ids {
	sc := securecookie.New(securecookie.GenerateRandomKey(32), nil)
	sc.SetSerializer(securecookie.NopEncoder{})
	sc.MaxAge(0)
	return ids{sc}
}

// read returns the ID in r's cookie, or "" if it has none that verifies.
func (c ids) read(r *http.Request) string {
	if ck, err := r.Cookie("cid"); err == nil {
		var raw []byte
		if c.codec.Decode("cid", ck.Value, &raw) == nil {
			return string(raw)
		}
	}
	return ""
}

// mint makes a new ID and sets its cookie in h.
func (c ids) mint(h http.Header) (string, error) {
	id := rand.Text()
	v, err := c.codec.Encode("cid", []byte(id))
	if err != nil {
		return "", err
	}
	h.Set("Set-Cookie", (&http.Cookie{Name: "cid", Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}).String())
	return id, nil
}

// setHeaders sets the headers a continuity server sends with a page.
func setHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Cookie")
	h.Set("Content-Type", "text/html; charset=utf-8")
}
