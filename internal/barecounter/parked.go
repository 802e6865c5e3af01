package barecounter

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// Parked is Handler with a goroutine per browser: the count is a local
// variable of the browser's goroutine, which prints each page while the
// request's handler waits, and waits on a channel in between. It is the
// floor of a goroutine-per-session server: the cookie work, one goroutine
// and two switches per request, and none of continuity's bounds, queues,
// timeouts or replay. The goroutine prints into a pooled buffer that the
// handler writes out: net/http's writer has large frames, and a goroutine
// that ran them would keep a 4 KiB stack while parked, not 2 KiB. Close
// stops its goroutines.
type Parked struct {
	page     func(w io.Writer, n int)
	ids      ids
	mu       sync.Mutex
	browsers map[string]*browser
	closed   bool
	wg       sync.WaitGroup
	bufs     sync.Pool
}

// A browser is one browser's goroutine. Its handlers take turns (mu), so
// that each one's done is its own page's. A handler holds mu across its
// send and its wait for done: the goroutine never takes mu, and it stops
// only when Close closes in, which Close does holding mu, so neither
// channel operation can wait for a goroutine that is gone.
type browser struct {
	mu      sync.Mutex
	stopped bool // in is closed
	in      chan *bytes.Buffer
	done    chan struct{}
}

// NewParked is a Parked printing page with the browser's count, 1 on its
// first request.
func NewParked(page func(w io.Writer, n int)) *Parked {
	return &Parked{page: page, ids: newIDs(), browsers: make(map[string]*browser)}
}

// ServeHTTP hands the request to its browser's goroutine, starting one
// for a new browser, and returns when the page is printed.
func (p *Parked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := p.ids.read(r)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "400 bad request", http.StatusBadRequest)
		return
	}
	h := w.Header()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		http.Error(w, "503 service unavailable", http.StatusServiceUnavailable)
		return
	}
	b, ok := p.browsers[id]
	if !ok {
		var err error
		if id, err = p.ids.mint(h); err != nil {
			p.mu.Unlock()
			http.Error(w, "500 internal server error", http.StatusInternalServerError)
			return
		}
		b = &browser{in: make(chan *bytes.Buffer), done: make(chan struct{})}
		p.browsers[id] = b
		p.wg.Add(1)
		go p.run(b)
	}
	p.mu.Unlock()
	setHeaders(h)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		http.Error(w, "503 service unavailable", http.StatusServiceUnavailable)
		return
	}
	buf, _ := p.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	b.in <- buf
	<-b.done
	w.Write(buf.Bytes())
	buf.Reset()
	p.bufs.Put(buf)
}

// run is a browser's goroutine.
func (p *Parked) run(b *browser) {
	defer p.wg.Done()
	for n := 1; ; n++ {
		buf, ok := <-b.in
		if !ok {
			return
		}
		p.page(buf, n)
		b.done <- struct{}{}
	}
}

// Live is the number of browsers, each a goroutine.
func (p *Parked) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.browsers)
}

// Close stops the browsers' goroutines and waits for them; requests from
// then on are answered 503.
func (p *Parked) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for _, b := range p.browsers {
			b.mu.Lock() // no handler is handing it a request
			b.stopped = true
			close(b.in)
			b.mu.Unlock()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}
