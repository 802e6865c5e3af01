package redistore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/continuity-go/continuity/journal"
)

// entryVersion is the first byte of every encoded entry. A decoder meets
// an unknown version only in a journal written by a newer continuity: it
// says so rather than guess.
const entryVersion = 1

// encodeEntry encodes e compactly: the version byte, the kind byte, the
// step (zig-zag varint), then Name, Method, Path, Query, Err and Value,
// each as a uvarint length and its bytes, then the form: a uvarint count
// of keys, sorted, each followed by a uvarint count of its values and the
// values, all length-prefixed. A nil and an empty Form (or Value) encode
// alike and decode as nil. The entry holds no cookie or header: Entry has
// none.
func encodeEntry(e *journal.Entry) []byte {
	b := make([]byte, 0, e.Size())
	b = append(b, entryVersion, byte(e.Kind))
	b = binary.AppendVarint(b, int64(e.Step))
	for _, s := range [...]string{e.Name, e.Method, e.Path, e.Query, e.Err} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Value)))
	b = append(b, e.Value...)
	keys := make([]string, 0, len(e.Form))
	for k := range e.Form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		vs := e.Form[k]
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errMalformed = errors.New("malformed entry")

// decodeEntry is the inverse of [encodeEntry]. It never panics, and
// allocates no more than the input's length justifies, whatever the input.
func decodeEntry(b []byte) (journal.Entry, error) {
	var e journal.Entry
	if len(b) < 2 {
		return e, errMalformed
	}
	if b[0] != entryVersion {
		return e, fmt.Errorf("entry encoding version %d unknown (this build reads version %d; written by a newer continuity?)", b[0], entryVersion)
	}
	d := decoder{b: b[2:]}
	e.Kind = journal.Kind(b[1])
	step := d.varint()
	e.Step = int(step)
	if int64(e.Step) != step {
		d.err = errMalformed
	}
	for _, p := range [...]*string{&e.Name, &e.Method, &e.Path, &e.Query, &e.Err} {
		*p = d.string()
	}
	if v := d.bytes(); len(v) > 0 {
		e.Value = slices.Clone(v)
	}
	// Every key and value takes at least one byte (its length), so a count
	// beyond the bytes left is malformed: checking it first bounds the
	// allocations.
	if n := d.count(); n > 0 {
		e.Form = make(url.Values, n)
		for range n {
			k := d.string()
			m := d.count()
			if d.err != nil {
				break
			}
			vs := make([]string, m)
			for i := range vs {
				vs[i] = d.string()
			}
			e.Form[k] = vs
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errMalformed
	}
	if d.err != nil {
		return journal.Entry{}, d.err
	}
	return e, nil
}

// decoder reads an encoded entry; its first error sticks, and the reads
// after it return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errMalformed
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errMalformed
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items that each take at least one byte.
func (d *decoder) count() int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errMalformed
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }
