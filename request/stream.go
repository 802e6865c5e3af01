package request

// Streaming: a session may send its response bit by bit, flushing each
// part to the browser, for as long as it likes; the response ends when the
// session calls Next or End. r.RequestContext().Done() tells it when to stop
// (POE::Component::Server::SimpleHTTP's close handler).

// Stream starts a streamed response for the request in hand: it sends the
// head (set headers and status first) and flushes it, so the browser sees
// the response begin and the server's response timeout no longer applies.
// Each write then has the server's write timeout (Options.WriteTimeout) to
// go through, a deadline renewed before every write, so a slow but live
// reader keeps the stream going while one that stopped reading is cut; it
// replaces any deadline an [http.Server] WriteTimeout set for the whole
// response (with no write timeout, that deadline is lifted). Then write and
// [Request.Flush] as you go, and end the stream with Next or End.
func (r *Request) Stream() error { return r.h().Stream() }

// FlushError is [Request.Flush]. With it, [http.NewResponseController]
// can flush a Request handed to code that takes an [http.ResponseWriter].
func (r *Request) FlushError() error { return r.Flush() }
