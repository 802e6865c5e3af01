package request

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
)

// exposedKey is the session value key of the values a session exposes;
// being unexported, no application can read or replace them through
// [Session.Value].
type exposedKey struct{}

// exposed is a session's exposed values, each JSON-encoded when exposed.
type exposed struct {
	mu sync.Mutex
	m  map[string]json.RawMessage
}

// Expose shows v under name in the operator's view of the session (the
// root package's Server.Inspect and Server.AdminHandler), replacing what
// was exposed under that name before; a nil v removes name. Nothing of a
// session but what it exposes appears there.
//
// v is encoded as JSON now, on the caller's goroutine, and only that
// snapshot is kept: the operator's view reads the snapshot, never v, so the
// session may go on changing v (or wait in [Request.Next]) without a data
// race, and the view shows v as it was at the last Expose. Expose again
// after a change to show it. The error is json.Marshal's, for values it
// cannot encode (channels, functions, cycles); what was exposed under name
// before then stays.
//
// Exposed values are for operators: they may carry what the user must not
// see (a game's secret), so mount the listing behind authentication. Keep
// them small; every Expose encodes v, and every listing copies them.
func (s *Session) Expose(name string, v any) error {
	var b []byte
	if v != nil {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return fmt.Errorf("continuity: expose %q: %w", name, err)
		}
	}
	e := s.ValueOrSet(exposedKey{}, func() any { return new(exposed) }).(*exposed)
	e.mu.Lock()
	defer e.mu.Unlock()
	if b == nil {
		delete(e.m, name)
		return nil
	}
	if e.m == nil {
		e.m = make(map[string]json.RawMessage)
	}
	e.m[name] = b
	return nil
}

// Exposed returns a copy of what the session exposes with
// [Session.Expose], by name, as JSON; nil if nothing. It is safe to call
// from any goroutine at any time, while the session works or waits: it
// reads only the snapshots Expose made.
func (s *Session) Exposed() map[string]json.RawMessage {
	e, _ := s.Value(exposedKey{}).(*exposed)
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.m) == 0 {
		return nil
	}
	out := maps.Clone(e.m)
	for k, b := range out {
		out[k] = bytes.Clone(b) // the caller may change its copy
	}
	return out
}
