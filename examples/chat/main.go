// Command chat is Continuity's AJAX push chat: open it in two browsers,
// post in one, and the message appears in the other at once. Each browser
// holds a session per path (ByCookie|ByPath): one shows the page, one
// takes the messages it posts (POST send), and one waits in a long poll
// (GET receive?since=ID) or a Server-Sent Events stream (GET events) until
// anyone posts.
//
//	go run ./examples/chat [-wait 25s] [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000] [-redis URL -node NAME -keys-file PATH]
//
// -wait bounds a long poll that has no message to answer with; keep it
// under the server's 30s queue timeout.
//
// With -redis, the room is in Redis (see newTopic): every chat process
// over the same Redis is a node of one chat, so a message posted on one
// node reaches the receivers of every node, with the same id everywhere.
// Without it the room lives in this process.
//
// The paths, one session each per browser:
//
//   - GET / is the page (history, a form, and a script);
//   - POST /send (form fields name and message) publishes a message;
//   - GET /receive?since=ID long-polls: it answers
//     {"messages":[{"id":…,"name":"…","message":"…","time":"…"}],"next":ID}
//     with the messages after ID, in order, waiting up to -wait for one;
//     "next" is the ID to ask from next time. One answer holds at most
//     100 messages and 64 KiB; a client further behind gets "more":true
//     and asks again. An ID the history no longer holds (or never held:
//     an earlier run of the server) gets "missed":true and the oldest
//     messages kept;
//   - GET /events is the same stream as Server-Sent Events.
//
// So a browser's receive session can sit in a long poll while its send
// session takes the message the user types. The messages live in one
// [continuity.Topic] that every session shares (sessions run in parallel:
// share state only through something safe for concurrent use, as a Topic
// is); each is encoded to JSON once, when it is published, however many
// receivers read it.
//
//tour:title Chat
//tour:about AJAX push chat: a session per browser waits in a long poll while another takes its posts.
package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/internal/jsonstr"
	"github.com/continuity-go/continuity/redistore"
)

// Limits and defaults.
const (
	// defaultWait is how long GET receive waits for a message before it
	// answers with none. It stays under the server's QueueTimeout (30s by
	// default), so that a second tab's poll, queued behind the first in
	// the browser's receive session, is taken before it times out.
	defaultWait = 25 * time.Second
	maxName     = 64   // bytes; longer names get 400
	maxMessage  = 1000 // bytes; longer messages get 400
	pageHistory = 50   // messages the page shows when it opens

	// pageMessages and pageBytes bound one answer of GET receive: a client
	// further behind gets the oldest messages it missed, with "more":true,
	// and asks again from "next".
	pageMessages = 100
	pageBytes    = 64 << 10
	keepAlive    = 15 * time.Second
)

// A room is the chat: the messages, and how long a long poll waits.
type room struct {
	wait  time.Duration
	topic *continuity.Topic[message]
}

// newRoom returns a room in this process whose long polls wait up to
// wait; it keeps the last 1,024 messages.
func newRoom(wait time.Duration) *room {
	return &room{wait: wait, topic: continuity.NewTopic[message](0)}
}

// newTopic returns the room's messages for the flags: in this process, or
// with -redis a topic in Redis that every node of the deployment shares.
// Reads stay local (each node keeps the last 1,024 messages it received);
// a publish goes through Redis, which numbers it, and an interrupt wakes
// the waiters of every node. Its owner closes it.
func newTopic(c demo.Config) (*continuity.Topic[message], error) {
	rdb := c.RedisClient()
	if rdb == nil {
		return continuity.NewTopic[message](0), nil
	}
	return redistore.NewTopic(rdb, "chat", 0, messageCodec, redistore.TopicOptions{})
}

// app is the application. Each session serves one path for one browser,
// for as long as the browser comes back.
func (c *room) app(r *continuity.Request) {
	switch r.Path() {
	case "/":
		c.page(r)
	case "/send":
		c.send(r)
	case "/receive":
		c.receive(r)
	case "/events":
		c.events(r)
	default:
		// Ending the session at once: a path nobody uses holds nothing.
		textError(r, http.StatusNotFound, "404 page not found")
	}
}

// page shows the page, with the last messages, on every GET.
func (c *room) page(r *continuity.Request) {
	for ; ; r.Next() {
		if !only(r, http.MethodGet) {
			continue
		}
		evs, last := c.topic.Recent(pageHistory)
		v := pageView{Nonce: rand.Text(), Since: last, MaxName: maxName, MaxMessage: maxMessage}
		for _, ev := range evs {
			m := ev.Value
			v.Messages = append(v.Messages, shownMessage{
				ID: ev.Version, Time: m.at.Format(time.RFC3339), Clock: m.at.Format("15:04:05"), Name: m.name, Text: m.text,
			})
		}
		r.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+v.Nonce+
			"'; style-src 'nonce-"+v.Nonce+"'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		page.Execute(r, v)
	}
}

// send publishes each message posted.
func (c *room) send(r *continuity.Request) {
	for ; ; r.Next() {
		if !only(r, http.MethodPost) {
			continue
		}
		m, err := newMessage(r.Param("name"), r.Param("message"), time.Now())
		if err != nil {
			textError(r, http.StatusBadRequest, "400 bad request: "+err.Error())
			continue
		}
		id, err := c.topic.PublishContext(r.RequestContext(), m)
		if err != nil && id == 0 { // only a topic in Redis fails: Redis is down
			textError(r, http.StatusServiceUnavailable, "503 service unavailable: the message was not sent; try again")
			continue
		}
		if strings.Contains(r.RequestHeader("Accept"), "application/json") {
			r.Header().Set("Content-Type", "application/json")
			r.Printf(`{"id":%d}`, id)
			continue
		}
		r.Redirect("./", http.StatusSeeOther) // a form posted without the script
	}
}

// receive answers each long poll with the messages after its since,
// waiting up to c.wait for one.
func (c *room) receive(r *continuity.Request) {
	for ; ; r.Next() {
		if !only(r, http.MethodGet) {
			continue
		}
		seen, err := since(r)
		if err != nil {
			textError(r, http.StatusBadRequest, "400 bad request: since must be a message id")
			continue
		}
		evs, next, err := c.topic.Wait(r.RequestContext(), seen, c.wait)
		missed := false
		switch {
		case errors.Is(err, continuity.ErrBehind):
			missed = true
			evs, _ = c.missed(next)
		case err != nil && !errors.Is(err, continuity.ErrInterrupted):
			continue // the client has gone, or the session is ending
		}
		r.Header().Set("Content-Type", "application/json")
		r.Write(receivePage(evs, next, missed))
	}
}

// events streams the messages as Server-Sent Events.
func (c *room) events(r *continuity.Request) {
	for ; ; r.Next() {
		if !only(r, http.MethodGet) {
			continue
		}
		// An EventSource that reconnects says where it was.
		seen, err := strconv.ParseUint(r.RequestHeader("Last-Event-ID"), 10, 64)
		if err != nil {
			if seen, err = since(r); err != nil {
				textError(r, http.StatusBadRequest, "400 bad request: since must be a message id")
				continue
			}
		}
		sse, err := r.SSE()
		if err != nil {
			continue
		}
		c.stream(r, sse, seen)
	}
}

// stream sends the messages after seen as they come, until the client
// goes or the same browser opens another stream (its newer request waits
// in this session's queue: a reconnecting EventSource whose old connection
// the server never saw close, or another tab, which then take turns).
func (c *room) stream(r *continuity.Request, sse *continuity.SSE, seen uint64) {
	if sse.Retry(2*time.Second) != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	var buf []byte
	for {
		evs, next, err := c.topic.Since(seen)
		if err != nil { // behind
			if sse.Send(continuity.SSEEvent{Event: "missed", Data: "{}"}) != nil {
				return
			}
			evs, next = c.missed(next)
		}
		for _, ev := range evs {
			buf = appendJSON(buf[:0], ev)
			id := strconv.FormatUint(ev.Version, 10)
			if sse.Send(continuity.SSEEvent{ID: id, Data: string(buf)}) != nil {
				return
			}
		}
		seen = next
		select {
		case <-c.topic.Changed(seen):
		case <-tick.C:
			if sse.Comment("keep-alive") != nil {
				return
			}
		case <-r.Arrived():
			return
		case <-r.RequestContext().Done():
			return
		}
	}
}

// missed reads on after a subscriber fell behind (or came back from an
// earlier run of the server): what the topic still keeps.
func (c *room) missed(next uint64) ([]continuity.Event[message], uint64) {
	for {
		evs, n, err := c.topic.Since(next)
		if err == nil {
			return evs, n
		}
		next = n // it moved on again meanwhile
	}
}

// waiting is the number of receivers waiting in a long poll now.
func (c *room) waiting() int { return c.topic.Waiters() }

// interrupt answers every waiting long poll now, with no message; their
// clients ask again at once.
func (c *room) interrupt() { c.topic.Interrupt() }

// A message is a message as published: its fields for the page, and its
// JSON object without the id (the topic's version), which a receiver puts
// in front.
type message struct {
	name, text string
	at         time.Time
	json       []byte // "name":"…","message":"…","time":"…"}
}

// newMessage checks and trims a message as sent.
func newMessage(name, text string, at time.Time) (message, error) {
	name, text = strings.TrimSpace(name), strings.TrimSpace(text)
	switch {
	case len(name) > maxName:
		return message{}, fmt.Errorf("name is longer than %d bytes", maxName)
	case text == "":
		return message{}, errors.New("message is empty")
	case len(text) > maxMessage:
		return message{}, fmt.Errorf("message is longer than %d bytes", maxMessage)
	case !utf8.ValidString(name) || !utf8.ValidString(text):
		return message{}, errors.New("name and message must be UTF-8 text")
	}
	if err := displayable("name", name, false); err != nil {
		return message{}, err
	}
	if err := displayable("message", text, true); err != nil {
		return message{}, err
	}
	if name == "" {
		name = "anonymous"
	}
	m := message{name: name, text: text, at: at.UTC().Truncate(time.Second)}
	b := append([]byte(nil), `"name":`...)
	b = jsonstr.Append(b, m.name)
	b = append(b, `,"message":`...)
	b = jsonstr.Append(b, m.text)
	b = append(b, `,"time":"`...)
	b = m.at.AppendFormat(b, time.RFC3339)
	m.json = append(b, `"}`...)
	return m, nil
}

// displayable refuses the characters that would let what is posted spoof
// the display: control characters (C0, DEL, C1; a message may hold tabs
// and line breaks, a name none), line and paragraph separators in a name,
// and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
// U+2066–U+2069), which reorder the text around them ("abc\u202Efed"
// shows as "abcdef") and can make one person's line read as another's.
// The marks that only set a direction (U+200E, U+200F, U+061C) cannot
// reorder a neighbour's text, so right-to-left writers keep them.
func displayable(what, s string, multiline bool) error {
	for _, c := range s {
		switch {
		case multiline && (c == '\t' || c == '\n' || c == '\r'):
		case c < 0x20 || (c >= 0x7f && c <= 0x9f):
			return fmt.Errorf("%s contains a control character (U+%04X)", what, c)
		case !multiline && (c == '\u2028' || c == '\u2029'):
			return fmt.Errorf("%s contains a line break (U+%04X)", what, c)
		case (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069):
			return fmt.Errorf("%s contains a bidirectional control (U+%04X), which could reorder the chat's text", what, c)
		}
	}
	return nil
}

// messageCodec carries a message between nodes as its JSON object; a
// node checks what it receives as if it had been posted to it.
var messageCodec = continuity.Codec[message]{
	Encode: func(m message) ([]byte, error) {
		return append([]byte{'{'}, m.json...), nil
	},
	Decode: func(b []byte) (message, error) {
		var m struct {
			Name    string    `json:"name"`
			Message string    `json:"message"`
			Time    time.Time `json:"time"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return message{}, err
		}
		return newMessage(m.Name, m.Message, m.Time)
	},
}

// appendJSON appends ev as a JSON object.
func appendJSON(b []byte, ev continuity.Event[message]) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, ev.Version, 10)
	b = append(b, ',')
	return append(b, ev.Value.json...)
}

// since reads the version a receiver has seen: ?since=ID, or 0.
func since(r *continuity.Request) (uint64, error) {
	s := r.Param("since")
	if s == "" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// receivePage is the answer to GET receive: the first of evs that fit in
// pageMessages and pageBytes (at least one), whether more are left, and
// next, the id to ask from next time (the last one sent, or, with no
// message, the one given). The bound is what keeps a client that fell
// behind, or never reads, from holding the whole ring's JSON, which
// escaping can make megabytes.
func receivePage(evs []continuity.Event[message], next uint64, missed bool) []byte {
	// The tail is at most `],"missed":true,"more":true,"next":` + 20 digits + `}`.
	const tail = 64
	b := append(make([]byte, 0, 1024), `{"messages":[`...)
	more := false
	for i, ev := range evs {
		if i == pageMessages || (i > 0 && len(b)+1+len(ev.Value.json)+32+tail > pageBytes) {
			more = true
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, ev)
		next = ev.Version
	}
	b = append(b, ']')
	if missed {
		b = append(b, `,"missed":true`...)
	}
	if more {
		b = append(b, `,"more":true`...)
	}
	b = append(b, `,"next":`...)
	b = strconv.AppendUint(b, next, 10)
	return append(b, '}')
}

// textError answers the request in hand with a plain-text error.
func textError(r *continuity.Request, code int, msg string) {
	h := r.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	r.WriteHeader(code)
	r.Print(msg + "\n")
}

// only answers 405 unless the request in hand uses method; it reports
// whether it does.
func only(r *continuity.Request, method string) bool {
	if r.Method() == method {
		return true
	}
	r.Header().Set("Allow", method)
	textError(r, http.StatusMethodNotAllowed, "405 method not allowed: use "+method)
	return false
}

// sessionPerPath sets the options the chat needs: a session per browser
// and path, so that one browser's long poll and its posts do not wait for
// each other.
func sessionPerPath(o *continuity.Options) *continuity.Options {
	o.Mode = continuity.ByCookie | continuity.ByPath
	return o
}

// waitFlag adds -wait DURATION to the flags every example shares.
func waitFlag(wait *time.Duration) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.Func("wait", "bound a long poll with no message to `duration` (default 25s)", demo.PositiveDuration(wait, false))
	}
}

// pageView is what the page shows.
type pageView struct {
	Nonce               string // the Content-Security-Policy's nonce
	Since               uint64 // the last message's id
	Messages            []shownMessage
	MaxName, MaxMessage int
}

type shownMessage struct {
	ID                      uint64
	Time, Clock, Name, Text string
}

// page is the page. Every URL in it is relative, so it works mounted
// under a prefix. The template escapes what people posted; the script
// puts text into the page with textContent only, never as HTML.
var page = template.Must(template.New("chat").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chat</title>
<style nonce="{{.Nonce}}">
body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}
#log{list-style:none;padding:0;min-height:10em;max-height:60vh;overflow-y:auto;border:1px solid #ccc;padding:.5em}
#log li{white-space:pre-wrap;overflow-wrap:anywhere}
#log time{color:#777;font-size:.85em}
#log .note{color:#a50}
#status,#error{color:#a00;min-height:1.2em}
form{display:flex;gap:.5em;flex-wrap:wrap}
#message{flex:1}
</style>
</head>
<body>
<h1>Chat</h1>
<ul id="log" data-since="{{.Since}}" aria-live="polite">
{{range .Messages}}<li data-id="{{.ID}}"><time datetime="{{.Time}}">{{.Clock}}</time> <b>{{.Name}}</b>: <span>{{.Text}}</span></li>
{{end}}</ul>
<p id="status"></p>
<form id="send" method="post" action="send">
<input id="name" name="name" placeholder="Your name" maxlength="{{.MaxName}}" autocomplete="nickname" size="12">
<input id="message" name="message" placeholder="Say something" maxlength="{{.MaxMessage}}" required autofocus autocomplete="off">
<button type="submit">Send</button>
</form>
<p id="error"></p>
<p><small>Messages arrive by <span id="transport">long polling</span>. Add <code>#sse</code> to the address (and reload) for Server-Sent Events instead.</small></p>
<script nonce="{{.Nonce}}">
(() => {
  const log = document.getElementById('log');
  const form = document.getElementById('send');
  const status = document.getElementById('status');
  const error = document.getElementById('error');
  let since = Number(log.dataset.since) || 0;

  const line = (cls, text) => {
    const li = document.createElement('li');
    li.className = cls;
    li.textContent = text;
    log.append(li);
    li.scrollIntoView({block: 'nearest'});
  };
  const show = m => {
    const li = document.createElement('li');
    li.dataset.id = m.id;
    const time = document.createElement('time');
    time.dateTime = m.time;
    time.textContent = new Date(m.time).toLocaleTimeString();
    const name = document.createElement('b');
    name.textContent = m.name;
    const text = document.createElement('span');
    text.textContent = m.message;
    li.append(time, ' ', name, ': ', text);
    log.append(li);
    li.scrollIntoView({block: 'nearest'});
    since = m.id;
  };
  const missed = () => line('note', 'Some messages were missed.');
  const sleep = ms => new Promise(done => setTimeout(done, ms));

  async function poll() {
    transport.textContent = 'long polling';
    for (let delay = 1000;;) {
      try {
        const resp = await fetch('receive?since=' + since, {cache: 'no-store', headers: {Accept: 'application/json'}});
        if (!resp.ok) throw new Error(resp.status + ' ' + resp.statusText);
        const data = await resp.json();
        if (data.missed) missed();
        data.messages.forEach(show);
        if (typeof data.next === 'number') since = data.next;
        status.textContent = '';
        delay = 1000;
      } catch (e) {
        status.textContent = 'Connection lost (' + e.message + '); trying again…';
        await sleep(delay);
        delay = Math.min(delay * 2, 30000);
      }
    }
  }

  const transport = document.getElementById('transport');
  function stream() {
    transport.textContent = 'Server-Sent Events';
    const es = new EventSource('events?since=' + since);
    es.onmessage = e => show(JSON.parse(e.data));
    es.addEventListener('missed', missed);
    es.onopen = () => { status.textContent = ''; };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        status.textContent = 'Stream closed; long polling instead.';
        poll();
      } else {
        status.textContent = 'Reconnecting…';
      }
    };
  }

  const nameInput = document.getElementById('name');
  nameInput.value = localStorage.getItem('chat-name') || '';
  form.addEventListener('submit', async e => {
    e.preventDefault();
    localStorage.setItem('chat-name', nameInput.value);
    try {
      const resp = await fetch('send', {
        method: 'POST',
        body: new URLSearchParams(new FormData(form)),
        headers: {Accept: 'application/json'},
      });
      if (!resp.ok) throw new Error(await resp.text());
      form.message.value = '';
      error.textContent = '';
    } catch (e) {
      error.textContent = e.message;
    }
  });

  if (location.hash === '#sse' && window.EventSource) stream(); else poll();
})();
</script>
</body>
</html>
`))

func main() {
	wait := defaultWait
	demo.Main(func(c demo.Config) (demo.Server, error) {
		topic, err := newTopic(c)
		if err != nil {
			return nil, err
		}
		room := &room{wait: wait, topic: topic}
		o := sessionPerPath(c.Options())
		o.Hooks.ServerStop = func() { topic.Close() } // after the last session
		srv, err := continuity.New(room.app, o)
		if err != nil {
			topic.Close()
			return nil, err
		}
		// Its waiting receivers show on -admin: the
		// continuity.topic.waiters metric and the admin page.
		srv.ObserveTopic("chat", room.topic)
		return srv, nil
	}, waitFlag(&wait))
}
