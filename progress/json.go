package progress

import (
	"strconv"
	"sync"

	"github.com/continuity-go/continuity/internal/jsonstr"
)

// The status endpoint encodes snapshots by hand, without reflection: with
// thousands of watchers woken by one change, encoding is the hot path.

// appendSnapshot appends s to b as the status endpoint's JSON object:
//
//	{"name":"work","total":100,"count":20,"messages":["…"],"in_progress":true,"status":"…","version":7}
//
// with "progress_id" after "name" when the meter has one.
func appendSnapshot(b []byte, s *Snapshot) []byte {
	b = append(b, `{"name":`...)
	b = jsonstr.Append(b, s.Name)
	if s.ID != "" {
		b = append(b, `,"progress_id":`...)
		b = jsonstr.Append(b, s.ID)
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
		b = jsonstr.Append(b, m)
	}
	b = append(b, `],"in_progress":`...)
	b = strconv.AppendBool(b, s.InProgress)
	b = append(b, `,"status":`...)
	b = jsonstr.Append(b, s.Status)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, s.Version, 10)
	return append(b, '}')
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
