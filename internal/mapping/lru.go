package mapping

import "github.com/continuity-go/continuity/internal/handoff"

// entry is one session in the table. It sits in exactly one of the
// mapper's two recency lists while it is in the table.
//
// Its layout is kept small, as there is one per session: the key's parts
// are slices of the key rather than strings of their own.
type entry struct {
	key     string // prefix + id
	idAt    uint32 // where the ID starts in key
	hits    uint32
	sess    *handoff.Session
	touched int64 // the mapper's clock at the last lookup; orders its list
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

// prefix is the address, identity and path parts of e's key.
func (e *entry) prefix() string { return e.key[:e.idAt] }

// id is the minted ID in e's key, "" in modes without one.
func (e *entry) id() string { return e.key[e.idAt:] }

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
