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
	list    *lru  // its recency list
	// client is e's client while e is in the table, nil when the client is
	// not bounded.
	client *client
	places [2]place // in its recency list, and in its client's
}

// A place is an entry's links in one list.
type place struct{ prev, next *entry }

// Which of an entry's places a list links it by.
const (
	inRecency = iota
	inClient
)

// list is an intrusive doubly linked list of entries, most recently used
// at the front. An entry is in two at once, one of the mapper's recency
// lists and its client's, each linking it by a place of its own.
type list struct {
	head, tail *entry
	n          int
	at         int // inRecency or inClient
}

// lru is one of the mapper's recency lists; it keeps entry.list.
type lru struct{ list }

// prefix is the address, identity and path parts of e's key.
func (e *entry) prefix() string { return e.key[:e.idAt] }

// id is the minted ID in e's key, "" in modes without one.
func (e *entry) id() string { return e.key[e.idAt:] }

func (l *list) pushFront(e *entry) {
	at := l.at & 1 // no bounds checks
	p := &e.places[at]
	p.prev = nil
	p.next = l.head
	if l.head != nil {
		l.head.places[at].prev = e
	} else {
		l.tail = e
	}
	l.head = e
	l.n++
}

func (l *list) remove(e *entry) {
	at := l.at & 1
	p := &e.places[at]
	if p.prev != nil {
		p.prev.places[at].next = p.next
	} else {
		l.head = p.next
	}
	if p.next != nil {
		p.next.places[at].prev = p.prev
	} else {
		l.tail = p.prev
	}
	p.prev, p.next = nil, nil
	l.n--
}

func (l *list) moveToFront(e *entry) {
	if l.head == e {
		return
	}
	l.remove(e)
	l.pushFront(e)
}

func (l *lru) pushFront(e *entry) {
	l.list.pushFront(e)
	e.list = l
}

func (l *lru) remove(e *entry) {
	l.list.remove(e)
	e.list = nil
}
