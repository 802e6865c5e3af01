package load

import (
	"errors"
	"fmt"
)

// A Client says how browsers talk to one server. It is not changed after
// NewClient, so any number of browsers may share it.
type Client struct {
	addr, agent string
	keepAlive   bool
	perSession  int
	fresh       []byte // the request without cookies
}

// NewClient is a client of the counter at addr, sending User-Agent agent.
// With keepAlive its browsers reuse their connections; else each request
// asks the server to close its connection, and a new one is dialled for
// the next. With perSession > 0 a browser starts a new session after
// that many steps.
func NewClient(addr, agent string, keepAlive bool, perSession int) *Client {
	return &Client{addr: addr, agent: agent, keepAlive: keepAlive, perSession: perSession,
		fresh: Request(addr, agent, "", "", !keepAlive)}
}

// A Browser is one simulated visitor: its cookies and the count its
// session has reached.
type Browser struct {
	CID, SRV string // the cookies cid (the session) and SRV (HAProxy's)
	Count    int
	req      []byte // the request with the cookies, made when they change
}

// ErrLostSession is a step's error when the server started a new session
// for a browser that had one.
var ErrLostSession = errors.New("the server started a new session")

// Step makes one request for b on c (dialling it when nil), checks that
// the count went up by one (the request reached b's session), and
// returns the connection to reuse, if any. A browser without a session
// starts one. After the client's steps per session the browser forgets
// its cookies and starts a new session, as a new visitor would: a journal
// keeps 1,000 entries, and a session past them is no longer journaled.
func (cl *Client) Step(b *Browser, c *Conn) (*Conn, error) {
	if cl.perSession > 0 && b.Count >= cl.perSession {
		*b = Browser{}
	}
	fresh := b.CID == ""
	if b.req == nil {
		b.req = Request(cl.addr, cl.agent, b.CID, b.SRV, !cl.keepAlive)
	}
	c, rep, err := cl.roundTrip(c, b.req)
	if err != nil {
		return nil, err
	}
	if rep.SRV != "" && rep.SRV != b.SRV {
		b.SRV, b.req = rep.SRV, nil
	}
	if rep.CID != "" {
		b.CID, b.req, b.Count = rep.CID, nil, rep.Count
		if fresh && rep.Count == 1 {
			return c, nil
		}
		return c, ErrLostSession
	}
	want := b.Count + 1
	b.Count = rep.Count
	if rep.Count != want {
		return c, fmt.Errorf("count %d, want %d", rep.Count, want)
	}
	return c, nil
}

// NewSession makes one request without cookies, on c if it is not nil,
// else on a fresh connection; the response must start a session, whose
// browser it returns with the connection to reuse, if any.
func (cl *Client) NewSession(c *Conn) (*Conn, Browser, error) {
	c, rep, err := cl.roundTrip(c, cl.fresh)
	if err != nil {
		return nil, Browser{}, err
	}
	if rep.CID == "" || rep.Count != 1 {
		return c, Browser{}, fmt.Errorf("no new session (count %d, cookie %q)", rep.Count, rep.CID)
	}
	return c, Browser{CID: rep.CID, SRV: rep.SRV, Count: 1}, nil
}

// roundTrip sends req on c, dialling it when nil, and returns c unless it
// is closed: after an error, and where the client or the server does not
// keep connections alive.
func (cl *Client) roundTrip(c *Conn, req []byte) (*Conn, Reply, error) {
	var err error
	if c == nil {
		if c, err = Dial(cl.addr); err != nil {
			return nil, Reply{}, err
		}
	}
	rep, err := c.RoundTrip(req)
	if err != nil || !cl.keepAlive || rep.Close {
		c.Close()
		c = nil
	}
	return c, rep, err
}
