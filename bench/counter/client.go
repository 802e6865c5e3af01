package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"time"
)

// requestTimeout bounds one request, connection included: the run is
// bounded in time even if a server stops answering.
const requestTimeout = 10 * time.Second

// A conn is a minimal HTTP/1.1 client connection: much cheaper than
// net/http's client (no goroutines of its own, no header maps), so that
// the load generator, which shares the machine's cores with the server,
// takes as little of them as it can.
type conn struct {
	c    net.Conn
	br   *bufio.Reader
	body []byte
}

func dial(addr string) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, requestTimeout)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, br: bufio.NewReaderSize(c, 8<<10), body: make([]byte, 0, 4<<10)}, nil
}

func (c *conn) Close() error { return c.c.Close() }

// request is the bytes of a GET / carrying cookie (the signed value of
// cid), if any.
func request(host, cookie string, close bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-counter\r\nAccept: text/html\r\n", host)
	if cookie != "" {
		fmt.Fprintf(&b, "Cookie: cid=%s\r\n", cookie)
	}
	if close {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// reply is what the load generator needs from a response.
type reply struct {
	count     int    // the page's counter
	setCookie string // the new value of cid, if the response set one
	close     bool   // the server will close the connection
}

var countMark = []byte(`<span id="count">`)

// roundTrip sends req and reads the response. A status other than 200, or
// a page without a count, is an error.
func (c *conn) roundTrip(req []byte) (reply, error) {
	var rep reply
	c.c.SetDeadline(time.Now().Add(requestTimeout))
	if _, err := c.c.Write(req); err != nil {
		return rep, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return rep, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return rep, fmt.Errorf("bad status line %q", line)
	}
	status, _ := atoiPrefix(line[9:])
	length, chunked := -1, false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return rep, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return rep, fmt.Errorf("bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, _ = atoiPrefix(value)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			rep.close = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Set-Cookie")):
			if v, ok := bytes.CutPrefix(value, []byte("cid=")); ok {
				v, _, _ = bytes.Cut(v, []byte(";"))
				rep.setCookie = string(v)
			}
		}
	}
	switch {
	case chunked:
		c.body, err = io.ReadAll(httputil.NewChunkedReader(c.br))
	case length >= 0:
		c.body = c.body[:0]
		if cap(c.body) < length {
			c.body = make([]byte, 0, length)
		}
		c.body = c.body[:length]
		_, err = io.ReadFull(c.br, c.body)
	default:
		return rep, errors.New("response without a length")
	}
	if err != nil {
		return rep, err
	}
	if status != 200 {
		return rep, fmt.Errorf("status %d: %.80q", status, c.body)
	}
	i := bytes.Index(c.body, countMark)
	if i < 0 {
		return rep, fmt.Errorf("no count in %.80q", c.body)
	}
	rep.count, _ = atoiPrefix(c.body[i+len(countMark):])
	return rep, nil
}

// A browser is one simulated client: its session cookie and the count
// it expects next.
type browser struct {
	cookie string
	count  int
	req    []byte // the request with the cookie, made once
}

// step makes one request for b, on c if keepAlive (dialling c when it is
// nil), or on a fresh connection. It checks that the count went up by one:
// the request reached b's session. It returns the connection to reuse.
func (b *browser) step(addr string, c *conn, keepAlive bool) (*conn, error) {
	if b.req == nil {
		b.req = request(addr, b.cookie, false)
	}
	req := b.req
	if !keepAlive {
		req = request(addr, b.cookie, true)
	}
	var err error
	if c == nil {
		if c, err = dial(addr); err != nil {
			return nil, err
		}
	}
	rep, err := c.roundTrip(req)
	if err != nil || !keepAlive || rep.close {
		c.Close()
		c = nil
	}
	if err != nil {
		return nil, err
	}
	if rep.setCookie != "" {
		b.cookie, b.req, b.count = rep.setCookie, nil, rep.count
		return c, errLostSession
	}
	if rep.count != b.count+1 {
		b.count = rep.count
		return c, fmt.Errorf("count %d, want %d", rep.count, b.count+1)
	}
	b.count = rep.count
	return c, nil
}

var errLostSession = errors.New("the server started a new session")

// newSession makes one request without a cookie, on c if it is not nil,
// else on a fresh connection; the response must start a session.
func newSession(addr string, c *conn, req []byte) (*conn, browser, error) {
	var err error
	if c == nil {
		if c, err = dial(addr); err != nil {
			return nil, browser{}, err
		}
	}
	rep, err := c.roundTrip(req)
	if err != nil || rep.close {
		c.Close()
		c = nil
	}
	if err != nil {
		return nil, browser{}, err
	}
	if rep.setCookie == "" || rep.count != 1 {
		return c, browser{}, fmt.Errorf("no new session (count %d, cookie %q)", rep.count, rep.setCookie)
	}
	return c, browser{cookie: rep.setCookie, count: 1}, nil
}
