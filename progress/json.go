package progress

import (
	"strconv"
	"sync"
	"unicode/utf8"
)

// The status endpoint encodes snapshots by hand, without reflection: with
// thousands of watchers woken by one change, encoding is the hot path.

// AppendJSON appends s to b as the status endpoint's JSON object:
//
//	{"name":"work","total":100,"count":20,"messages":["…"],"in_progress":true,"status":"…","version":7}
//
// with "progress_id" after "name" when the meter has one.
func AppendJSON(b []byte, s *Snapshot) []byte { return appendSnapshot(b, s) }

func appendSnapshot(b []byte, s *Snapshot) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, s.Name)
	if s.ID != "" {
		b = append(b, `,"progress_id":`...)
		b = appendString(b, s.ID)
	}
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(s.Total), 10)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(s.Count), 10)
	b = append(b, `,"messages":[`...)
	for i, m := range s.Messages {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m)
	}
	b = append(b, `],"in_progress":`...)
	b = strconv.AppendBool(b, s.InProgress)
	b = append(b, `,"status":`...)
	b = appendString(b, s.Status)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, s.Version, 10)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, exactly as encoding/json
// encodes it: invalid UTF-8 bytes become U+FFFD; control characters,
// quote and backslash are escaped; so are <, > and & (the JSON may end up
// in HTML) and U+2028 and U+2029 (which end lines in JavaScript).
// strconv.Quote is not a substitute: its \x and \U escapes are not JSON.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// bufs recycles encoding buffers; big ones are dropped.
var bufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 512)
	return &b
}}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		bufs.Put(b)
	}
}
