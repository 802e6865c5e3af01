// Package load is the load generator that bench/counter and bench/nodes
// run against the counter page (examples/counter, and bench/counter's
// servers): a minimal HTTP/1.1 client, browsers that step their sessions
// with it and check the count, and a run of many of them, warmed up, then
// measured.
package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strings"
	"time"
)

// RequestTimeout bounds one request, connection included: a run is
// bounded in time even if a server stops answering.
const RequestTimeout = 10 * time.Second

// A Conn is a minimal HTTP/1.1 client connection: much cheaper than
// net/http's client (no goroutines of its own, no header maps), so that
// the load generator, which shares the machine's cores with the servers,
// takes as little of them as it can.
type Conn struct {
	c    net.Conn
	br   *bufio.Reader
	body []byte
}

// Dial connects to addr.
func Dial(addr string) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, RequestTimeout)
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, br: bufio.NewReaderSize(c, 8<<10), body: make([]byte, 0, 4<<10)}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Request is the bytes of a GET / from User-Agent agent, carrying the
// cookies cid (the session) and SRV (the load balancer's) where not
// empty, and asking the server to close the connection after it if
// close.
func Request(host, agent, cid, srv string, close bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: text/html\r\n", host, agent)
	var cookies []string
	if cid != "" {
		cookies = append(cookies, "cid="+cid)
	}
	if srv != "" {
		cookies = append(cookies, "SRV="+srv)
	}
	if len(cookies) > 0 {
		fmt.Fprintf(&b, "Cookie: %s\r\n", strings.Join(cookies, "; "))
	}
	if close {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// A Reply is what the load generator needs from a response.
type Reply struct {
	Count    int    // the page's counter
	CID, SRV string // the new values of the cookies cid and SRV, if set
	Close    bool   // the server will close the connection
}

var countMark = []byte(`<span id="count">`)

// RoundTrip sends req and reads the response, with Content-Length or
// chunked. A status other than 200, or a page without a count, is an
// error.
func (c *Conn) RoundTrip(req []byte) (Reply, error) {
	var rep Reply
	c.c.SetDeadline(time.Now().Add(RequestTimeout))
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
			rep.Close = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Set-Cookie")):
			v, _, _ := bytes.Cut(value, []byte(";"))
			if s, ok := bytes.CutPrefix(v, []byte("cid=")); ok {
				rep.CID = string(s)
			} else if s, ok := bytes.CutPrefix(v, []byte("SRV=")); ok {
				rep.SRV = string(s)
			}
		}
	}
	switch {
	case chunked:
		if c.body, err = io.ReadAll(httputil.NewChunkedReader(c.br)); err == nil {
			err = c.skipTrailer()
		}
	case length >= 0:
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
	n, ok := atoiPrefix(c.body[i+len(countMark):])
	if !ok {
		return rep, fmt.Errorf("no count in %.80q", c.body)
	}
	rep.Count = n
	return rep, nil
}

// skipTrailer reads the lines after a chunked body's last chunk, up to the
// empty one: the chunked reader leaves them, and the next response on the
// connection comes after them.
func (c *Conn) skipTrailer() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil || len(line) <= 2 {
			return err
		}
	}
}

// atoiPrefix parses the decimal digits at the start of b.
func atoiPrefix(b []byte) (int, bool) {
	n, i := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	return n, i > 0
}
