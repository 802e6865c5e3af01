package handoff

import (
	"errors"
	"net/http"
	"time"
)

// Streaming: a session may send its response bit by bit, flushing each
// part to the browser, for as long as it likes; the response ends when the
// session calls Next or End. [Handle.ClientGone] tells it when to stop
// (POE::Component::Server::SimpleHTTP's close handler).

// Stream starts a streamed response for the request in hand: it sends the
// head (set headers and status first) and flushes it, so the browser sees
// the response begin and the server's response timeout no longer applies.
// Each write then has the write timeout to go through (see
// [Timeouts].Write), which replaces any deadline the server set for the
// whole response ([http.Server] WriteTimeout), so that it does not cut the
// stream; with no write timeout, that deadline is lifted. Then write and
// [Handle.Flush] as you go, and end the stream with Next or End.
func (r *Handle) Stream() error {
	ex, err := r.output()
	if err != nil {
		if err == errDiscard {
			return nil
		}
		return err
	}
	defer ex.mu.Unlock()
	r.capturing = false // a streamed response is not kept
	if err := ex.spillLocked(); err != nil {
		return err
	}
	rc := http.NewResponseController(ex.w)
	if ex.write <= 0 {
		if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	return rc.Flush()
}
