// Package fcgitest is a minimal FastCGI client for tests: a
// [Transport] that an [http.Client] sends its requests through, as a web
// server in front of a FastCGI application (nginx, Apache) would. With a
// cookie jar on the client, a test browses a FastCGI application exactly
// as it browses an HTTP one.
//
// It speaks the responder role of FastCGI 1.0: one connection per
// request, BEGIN_REQUEST without FCGI_KEEP_CONN, the request as CGI
// PARAMS, its body as STDIN, and the application's STDOUT parsed as a CGI
// response until END_REQUEST. The response body streams: it is read from
// the connection as the application writes it.
package fcgitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Record types and the role of the FastCGI 1.0 specification.
const (
	version       = 1
	beginRequest  = 1
	endRequest    = 3
	params        = 4
	stdin         = 5
	stdout        = 6
	stderr        = 7
	roleResponder = 1
	requestID     = 1
	maxContent    = 65535
)

// A Transport sends each request to the FastCGI application listening at
// Network ("tcp" or "unix") and Addr, over a connection of its own.
type Transport struct {
	Network string
	Addr    string
	// RemoteAddr is the client address the application is told
	// (REMOTE_ADDR and REMOTE_PORT); default 192.0.2.1:1234.
	RemoteAddr string
}

// RoundTrip implements [http.RoundTripper]. The request's URL gives the
// path and query (REQUEST_URI) and, with its Host header, HTTP_HOST;
// "https" URLs set HTTPS=on. Cancelling the request's context closes the
// connection.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	var d net.Dialer
	conn, err := d.DialContext(req.Context(), t.Network, t.Addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(req.Context(), func() { conn.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		if cerr := req.Context().Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}

	var out bytes.Buffer
	record(&out, beginRequest, []byte{0, roleResponder, 0, 0, 0, 0, 0, 0})
	for p := pairs(t.params(req, len(body))); ; p = p[min(len(p), maxContent):] {
		record(&out, params, p[:min(len(p), maxContent)])
		if len(p) == 0 {
			break
		}
	}
	for b := body; ; b = b[min(len(b), maxContent):] {
		record(&out, stdin, b[:min(len(b), maxContent)])
		if len(b) == 0 {
			break
		}
	}
	if _, err := conn.Write(out.Bytes()); err != nil {
		return fail(err)
	}

	rd := &stdoutReader{conn: conn, br: bufio.NewReader(conn), stop: stop}
	tp := textproto.NewReader(bufio.NewReader(rd))
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return fail(fmt.Errorf("fcgitest: reading the CGI response head: %w", err))
	}
	resp := &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header(hdr),
		Body:          readCloser{tp.R, rd},
		Request:       req,
		ContentLength: -1,
	}
	if st := hdr.Get("Status"); st != "" {
		code, _, _ := strings.Cut(st, " ")
		if resp.StatusCode, err = strconv.Atoi(code); err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("fcgitest: bad Status %q", st)
		}
		resp.Status = st
		resp.Header.Del("Status")
	}
	if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	return resp, nil
}

// params is the CGI environment of req.
func (t *Transport) params(req *http.Request, n int) [][2]string {
	remote := t.RemoteAddr
	if remote == "" {
		remote = "192.0.2.1:1234"
	}
	rhost, rport, _ := net.SplitHostPort(remote)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	sname, sport, err := net.SplitHostPort(host)
	if err != nil {
		sname, sport = host, "80"
		if req.URL.Scheme == "https" {
			sport = "443"
		}
	}
	p := [][2]string{
		{"GATEWAY_INTERFACE", "CGI/1.1"},
		{"SERVER_SOFTWARE", "fcgitest"},
		{"SERVER_PROTOCOL", "HTTP/1.1"},
		{"SERVER_NAME", sname},
		{"SERVER_PORT", sport},
		{"REQUEST_METHOD", req.Method},
		{"REQUEST_URI", req.URL.RequestURI()},
		{"SCRIPT_NAME", ""},
		{"PATH_INFO", req.URL.Path},
		{"QUERY_STRING", req.URL.RawQuery},
		{"REMOTE_ADDR", rhost},
		{"REMOTE_PORT", rport},
		{"HTTP_HOST", host},
		{"CONTENT_LENGTH", strconv.Itoa(n)},
	}
	if req.URL.Scheme == "https" {
		p = append(p, [2]string{"HTTPS", "on"})
	}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		p = append(p, [2]string{"CONTENT_TYPE", ct})
	}
	for k, vs := range req.Header {
		switch k {
		case "Content-Type", "Content-Length", "Host":
			continue
		}
		sep := ", "
		if k == "Cookie" {
			sep = "; "
		}
		p = append(p, [2]string{"HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_")), strings.Join(vs, sep)})
	}
	return p
}

// record appends one record of type typ to w.
func record(w *bytes.Buffer, typ uint8, content []byte) {
	h := [8]byte{version, typ}
	binary.BigEndian.PutUint16(h[2:], requestID)
	binary.BigEndian.PutUint16(h[4:], uint16(len(content)))
	pad := (8 - len(content)%8) % 8
	h[6] = uint8(pad)
	w.Write(h[:])
	w.Write(content)
	w.Write(make([]byte, pad))
}

// pairs encodes name-value pairs as FastCGI does.
func pairs(ps [][2]string) []byte {
	var b bytes.Buffer
	size := func(n int) {
		if n < 128 {
			b.WriteByte(byte(n))
			return
		}
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(n)|1<<31)
		b.Write(l[:])
	}
	for _, p := range ps {
		size(len(p[0]))
		size(len(p[1]))
		b.WriteString(p[0])
		b.WriteString(p[1])
	}
	return b.Bytes()
}

// A stdoutReader reads the content of the STDOUT records of a connection
// until END_REQUEST, then io.EOF; it closes the connection then.
type stdoutReader struct {
	conn net.Conn
	br   *bufio.Reader
	stop func() bool
	left int // content bytes of the current STDOUT record not yet read
	pad  int // padding after them
	err  error
}

// ErrProtocol reports a response that is not well-formed FastCGI.
var ErrProtocol = errors.New("fcgitest: protocol error")

func (r *stdoutReader) Read(p []byte) (int, error) {
	for r.left == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.pad > 0 {
			if _, err := r.br.Discard(r.pad); err != nil {
				return 0, r.fail(unexpected(err))
			}
			r.pad = 0
		}
		var h [8]byte
		if _, err := io.ReadFull(r.br, h[:]); err != nil {
			return 0, r.fail(unexpected(err))
		}
		if h[0] != version || binary.BigEndian.Uint16(h[2:]) != requestID {
			return 0, r.fail(fmt.Errorf("%w: record header % x", ErrProtocol, h))
		}
		n, pad := int(binary.BigEndian.Uint16(h[4:])), int(h[6])
		switch h[1] {
		case stdout:
			r.left, r.pad = n, pad
		case stderr:
			if _, err := r.br.Discard(n + pad); err != nil {
				return 0, r.fail(unexpected(err))
			}
		case endRequest:
			r.fail(io.EOF)
			return 0, io.EOF
		default:
			return 0, r.fail(fmt.Errorf("%w: record type %d", ErrProtocol, h[1]))
		}
	}
	if len(p) > r.left {
		p = p[:r.left]
	}
	n, err := r.br.Read(p)
	r.left -= n
	if err != nil {
		return n, r.fail(unexpected(err))
	}
	return n, nil
}

// unexpected is err, except that the connection's end before END_REQUEST
// is io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fail ends the response with err (io.EOF for a clean end) and closes the
// connection.
func (r *stdoutReader) fail(err error) error {
	if r.err == nil {
		r.err = err
		r.stop()
		r.conn.Close()
	}
	return r.err
}

func (r *stdoutReader) Close() error {
	r.fail(errors.New("fcgitest: body closed"))
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
