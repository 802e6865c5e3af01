// Package journal records what a continuity session needs to replay its
// flow: the input of each step (method, path, query and form values; never
// cookies or headers), the results of the flow's side effects (Once), and
// its barriers. Replaying means running the flow function again from its
// first step in a fresh goroutine, feeding it the recorded inputs and
// results, so that the flow reaches an earlier step again (the back
// button) or re-renders the current one.
//
// A journal is an append-only list of entries per session, kept in a
// [Store]. Each append names its sequence number, dense from 1, and a
// store refuses one that is not next ([ErrConflict]): a store shared by
// several processes can then fence out a second writer. A rewind does not
// rewrite history; it appends a [Rewind] entry, and [Timeline] folds the
// list into the entries of the flow's current timeline.
//
// The package depends on the standard library only, so that stores for
// other back ends can implement [Store] without importing continuity.
package journal

import (
	"context"
	"errors"
	"net/url"
	"strconv"
)

// Kind says what an [Entry] records.
type Kind uint8

// Kinds of entries.
const (
	// Input is a request that a step of the flow took as its input:
	// Method, Path, Query and Form.
	Input Kind = iota + 1
	// Once is the result of a side effect run once (request.Once): Name,
	// and Value (JSON) or Err.
	Once
	// Barrier marks the step at which the flow called Barrier: nothing
	// before it can be rewound to.
	Barrier
	// Rewind marks a return to Step: the entries recorded after it for
	// later steps belong to an abandoned timeline (see [Timeline]). Value
	// is the number of the timeline it starts, in decimal; a Rewind to
	// step -1 (first in a compacted journal) rewinds nothing and only
	// numbers the timeline the entries after it are on.
	Rewind
	// Version records the version of a changed part of the flow that the
	// session first ran (request.Request.Version): Name, and Value, the
	// version in decimal.
	Version
)

// String names the kind as the divergence messages show it.
func (k Kind) String() string {
	switch k {
	case Input:
		return "input"
	case Once:
		return "once"
	case Barrier:
		return "barrier"
	case Rewind:
		return "rewind"
	case Version:
		return "version"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// An Entry is one record of a session's journal. Which fields are set
// depends on Kind. Stores keep entries as they are given: an in-memory
// store shares Form with the request it came from, so neither side may
// modify it.
type Entry struct {
	Kind Kind
	// Step is the step the entry belongs to: for an Input, the index of
	// the request (0 for the request that started the flow); for Once,
	// Barrier and Version, the step during which the flow made the call; for
	// Rewind, the step returned to.
	Step int
	// Name is a Once's or a Version's name.
	Name string
	// Method, Path and Query (the raw query string) are an Input's
	// request line.
	Method, Path, Query string
	// Form is an Input's body form values (url-encoded or multipart;
	// uploaded files are not recorded).
	Form url.Values
	// Value is a Once's result, JSON-encoded, or a Version's number in
	// decimal.
	Value []byte
	// Err is the text of the error a Once's function returned, if any.
	Err string
}

// entryOverhead is what an entry counts for beyond its strings and values,
// in [Entry.Size]: a rough figure for its bookkeeping, so that many tiny
// entries still fill a byte cap.
const entryOverhead = 64

// Size is the number of bytes e counts for against a byte cap: the
// lengths of its strings, form keys and values and Value, plus a fixed
// 64 for the entry itself.
func (e *Entry) Size() int {
	n := entryOverhead + len(e.Name) + len(e.Method) + len(e.Path) + len(e.Query) + len(e.Value) + len(e.Err)
	for k, vs := range e.Form {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

// Errors of [Store.Append].
var (
	// ErrConflict: the sequence number is not the next one for the
	// session (another writer appended first, or the journal was deleted).
	ErrConflict = errors.New("journal: append out of sequence")
	// ErrFull: the session's journal is at its cap of entries or bytes.
	ErrFull = errors.New("journal: session journal full")
)

// A Store keeps the journals of many sessions. Its methods are safe for
// concurrent use. session is an opaque key the caller chooses (continuity
// uses a random value per session, never the session ID).
type Store interface {
	// Append adds e to the session's journal as its seq'th entry. seq is
	// dense from 1: Append returns ErrConflict, and stores nothing, unless
	// seq is one more than the number of entries the session has (1 for a
	// session with none). A store with caps returns ErrFull instead of
	// passing them.
	Append(ctx context.Context, session string, seq uint64, e Entry) error
	// Load returns the session's entries in order; none (and no error)
	// for a session the store does not know. The caller must not modify
	// the entries' Form or Value.
	Load(ctx context.Context, session string) ([]Entry, error)
	// Delete forgets the session's journal; the next Append for it must
	// name seq 1. Deleting an unknown session is not an error.
	Delete(ctx context.Context, session string) error
}

// Defaults of [Limits].
const (
	DefaultMaxEntries = 1000
	DefaultMaxBytes   = 1 << 20
)

// Limits are the caps on each session's journal in a [Memory] store.
type Limits struct {
	// MaxEntries bounds the entries per session. Zero means
	// DefaultMaxEntries (1,000); negative means no bound.
	MaxEntries int
	// MaxBytes bounds the bytes per session, as counted by [Entry.Size].
	// Zero means DefaultMaxBytes (1 MiB); negative means no bound.
	MaxBytes int64
}

func (l Limits) resolve() Limits {
	if l.MaxEntries == 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// Timeline returns the entries of the current timeline of a journal: each
// Rewind entry drops the entries before it that belong to steps after its
// own, and is itself left out. The result is what a replay feeds the flow.
// It does not modify entries.
func Timeline(entries []Entry) []Entry {
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		if e.Kind != Rewind {
			out = append(out, e)
			continue
		}
		keep := len(out)
		for keep > 0 && out[keep-1].Step > e.Step {
			keep--
		}
		clear(out[keep:])
		out = out[:keep]
	}
	return out
}
