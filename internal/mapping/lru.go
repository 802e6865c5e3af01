package mapping

import "github.com/continuity-go/continuity/internal/handoff"

// entry is one session in the table. It sits in exactly one of the
// mapper's two recency lists while it is in the table.
type entry struct {
	key     string // prefix + id
	prefix  string // the address, identity and path parts of key
	id      string // the minted ID in key, "" in modes without one
	sess    *handoff.Session
	touched int64 // the mapper's clock at the last lookup; orders its list
	hits    uint32
	list    *lru
	prev    *entry
	next    *entry
	// client is e's client while e is in the table, nil when the client is
	// not bounded; cprev and cnext link the client's sessions.
	client       *client
	cprev, cnext *entry
}

// lru is an intrusive doubly linked list, most recently used at the front.
type lru struct {
	head, tail *entry
	n          int
}

func (l *lru) pushFront(e *entry) {
	e.list = l
	e.prev = nil
	e.next = l.head
	if l.head != nil {
		l.head.prev = e
	} else {
		l.tail = e
	}
	l.head = e
	l.n++
}

func (l *lru) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next, e.list = nil, nil, nil
	l.n--
}

func (l *lru) moveToFront(e *entry) {
	if l.head == e {
		return
	}
	l.remove(e)
	l.pushFront(e)
}
