package request

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// An SSEEvent is one Server-Sent Event (the text/event-stream format that
// a browser's EventSource reads). Only Data is required.
type SSEEvent struct {
	// ID, if not empty, becomes the browser's last event ID: an
	// EventSource that reconnects sends it back in the Last-Event-ID
	// header. It must not contain a line break or NUL.
	ID string
	// Event is the event type, which picks the EventSource listener;
	// empty means "message" (onmessage). It must not contain a line break.
	Event string
	// Data is the payload. It may span lines: each becomes its own data
	// field, and the browser joins them with "\n".
	Data string
	// Retry, if positive, sets how long the browser waits before
	// reconnecting after the stream ends.
	Retry time.Duration
}

// An SSE writes Server-Sent Events to the response it was opened on by
// [Request.SSE]. Every method sends at once (writes, then flushes) and
// fails with [ErrClientGone] once that response is over: the client went
// away, or the session moved on with Next or End.
type SSE struct {
	r      *Request
	ctx    context.Context // the RequestContext it was opened on
	lastID string
	buf    []byte
}

// Errors for event fields that would break the stream's framing.
var (
	errSSEEvent = errors.New("continuity: SSE event type contains a line break")
	errSSEID    = errors.New("continuity: SSE event ID contains a line break or NUL")
)

// SSE starts a Server-Sent Events stream on the request in hand: it sets
// Content-Type text/event-stream, Cache-Control no-store and
// X-Accel-Buffering no (so nginx does not hold the events back), and
// starts the response as [Request.Stream] does. Send events with the
// returned SSE until [Request.RequestContext] is done or you are, then
// call Next or End.
func (r *Request) SSE() (*SSE, error) {
	if r.HTTP() == nil {
		return nil, ErrNoRequest
	}
	h := r.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	if err := r.Stream(); err != nil {
		return nil, err
	}
	return &SSE{r: r, ctx: r.RequestContext(), lastID: r.RequestHeader("Last-Event-ID")}, nil
}

// LastEventID is the Last-Event-ID header of the request the stream was
// opened on: the ID of the last event an EventSource received before it
// reconnected, or "".
func (s *SSE) LastEventID() string { return s.lastID }

// Send sends ev and flushes it.
func (s *SSE) Send(ev SSEEvent) error {
	if strings.ContainsAny(ev.Event, "\r\n") {
		return errSSEEvent
	}
	if strings.ContainsAny(ev.ID, "\r\n\x00") {
		return errSSEID
	}
	b := s.buf[:0]
	if ev.Event != "" {
		b = append(b, "event: "...)
		b = append(b, ev.Event...)
		b = append(b, '\n')
	}
	if ev.ID != "" {
		b = append(b, "id: "...)
		b = append(b, ev.ID...)
		b = append(b, '\n')
	}
	if ev.Retry > 0 {
		b = appendRetry(b, ev.Retry)
	}
	b = appendLines(b, "data: ", ev.Data)
	b = append(b, '\n')
	return s.send(b)
}

// Data sends an unnamed event ("message") carrying data.
func (s *SSE) Data(data string) error { return s.Send(SSEEvent{Data: data}) }

// Retry tells the browser how long to wait before reconnecting once the
// stream ends.
func (s *SSE) Retry(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	return s.send(append(appendRetry(s.buf[:0], d), '\n'))
}

// Comment sends a comment, which the browser ignores. Send one every few
// seconds while there is nothing else to send, as a keep-alive: it keeps
// proxies from closing an idle stream and lets a write notice a client
// that has gone.
func (s *SSE) Comment(text string) error {
	b := appendLines(s.buf[:0], ": ", text)
	return s.send(append(b, '\n'))
}

func (s *SSE) send(b []byte) error {
	s.buf = b[:0]
	// The request context is made afresh for each request in hand, so it
	// tells whether that is still the stream's request.
	if s.ctx.Err() != nil || s.r.RequestContext() != s.ctx {
		return ErrClientGone
	}
	if _, err := s.r.Write(b); err != nil {
		return err
	}
	return s.r.Flush()
}

func appendRetry(b []byte, d time.Duration) []byte {
	b = append(b, "retry: "...)
	b = strconv.AppendInt(b, max(d.Milliseconds(), 1), 10)
	return append(b, '\n')
}

// appendLines appends text as fields named by prefix, one per line. Lines
// end at "\r\n", "\r" or "\n", as the event-stream format reads them.
func appendLines(b []byte, prefix, text string) []byte {
	for {
		i := strings.IndexAny(text, "\r\n")
		if i < 0 {
			b = append(b, prefix...)
			b = append(b, text...)
			return append(b, '\n')
		}
		b = append(b, prefix...)
		b = append(b, text[:i]...)
		b = append(b, '\n')
		if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		text = text[i+1:]
	}
}
