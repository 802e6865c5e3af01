// Command progress shows a live progress bar for slow work done in a
// session: the page's Start button runs a task of -steps steps of -step
// each in the session goroutine, under the progress meter "work", and the
// bar follows it through GET _progress_status/work, which the server
// answers itself while the session is busy: by Server-Sent Events, or by
// long-polling where those fail.
//
//	go run ./examples/progress [-steps 50] [-step 100ms] [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// GET / is the page: a Start button and a bar (<div id="bar">, whose width
// and text are the percentage done). Start sends start (GET and POST both
// work), which runs the task in the session goroutine itself, adding a
// message every 10 steps. The start request is answered at once with a
// first line, {"started":true}, and stays open until the task ends
// ({"done":true}). A start the meter refuses gets 400 (an invalid
// progress_id), 409 (already running), 429 or 503 with Retry-After (too
// many meters) and {"error":"why"}. Every URL in the page is relative, so
// the example works mounted under a prefix, as in the tour.
//
//tour:title Progress
//tour:about A live progress bar for slow work in the session, over Server-Sent Events or long-polling.
package main

import (
	"errors"
	"flag"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/progress"
)

// The task's size unless -steps and -step say otherwise.
const (
	defaultSteps = 50
	defaultStep  = 100 * time.Millisecond
)

// meterName is the task's progress meter; the page watches it at
// _progress_status/work.
const meterName = "work"

// work returns the application: the page, and the task for each start.
func work(steps int, step time.Duration) func(*continuity.Request) {
	return func(r *continuity.Request) {
		for {
			if r.Path() == "/start" || strings.HasSuffix(r.Path(), "/start") {
				task(r, steps, step)
			} else {
				page.Execute(r, pageData{Steps: steps, Unit: plural(steps, "step", "steps"), Step: step})
			}
			r.Next()
		}
	}
}

// task runs the work for one start request, in the session goroutine:
// while it runs the session is busy, and the server itself answers the
// page's questions about the meter. A start the meter refuses is answered
// with a status and a line that says why.
func task(r *continuity.Request, steps int, step time.Duration) {
	r.Header().Set("Content-Type", "application/x-ndjson")
	started := false
	err := progress.Run(r, meterName, func(m *progress.Meter) error {
		// Answer now, so the page knows the meter exists, and keep the
		// response open while the session works.
		started = true
		r.WriteString(`{"started":true}` + "\n")
		r.Flush()
		t := time.NewTimer(step)
		defer t.Stop()
		for i := 1; i <= steps; i++ {
			select {
			case <-t.C:
				t.Reset(step)
			case <-r.Context().Done(): // the session is over
				return r.Context().Err()
			}
			m.Inc()
			if i%10 == 0 {
				m.Message(fmt.Sprintf("%d of %d steps done", i, steps))
			}
		}
		m.Status("done")
		return nil
	}, progress.Total(steps), progress.InitialStatus("working"))
	switch {
	case err == nil:
		r.WriteString(`{"done":true}` + "\n")
	case started:
		// The session ended during the task: nobody is left to tell.
	case errors.Is(err, progress.ErrRunning):
		refuse(r, http.StatusConflict, "already running")
	case errors.Is(err, progress.ErrBadName):
		refuse(r, http.StatusBadRequest, "invalid "+progress.IDParam+": it must be 1 to "+strconv.Itoa(progress.MaxNameLen)+" bytes, without slashes, backslashes, double dots or control characters")
	case errors.Is(err, progress.ErrTooMany):
		refuse(r, http.StatusTooManyRequests, "too many progress meters in this session")
	case errors.Is(err, progress.ErrFull):
		r.Header().Set("Retry-After", "5")
		refuse(r, http.StatusServiceUnavailable, "server busy: too many progress meters; try again later")
	default:
		refuse(r, http.StatusServiceUnavailable, "the task could not start")
	}
}

// refuse answers a start that did not start; msg has nothing to escape in
// JSON.
func refuse(r *continuity.Request, code int, msg string) {
	r.SetStatus(code)
	r.WriteString(`{"error":"` + msg + `"}` + "\n")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// taskFlags adds -steps N and -step DURATION to the flags every example
// shares.
func taskFlags(steps *int, step *time.Duration) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.Func("steps", "run a task of `n` steps (default 50)", func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return errors.New("want a whole number of at least 1")
			}
			*steps = n
			return nil
		})
		fs.Func("step", "make each step last `duration` (default 100ms)", demo.PositiveDuration(step, true))
	}
}

type pageData struct {
	Steps int
	Unit  string
	Step  time.Duration
}

// page is the page: a form (which works without JavaScript, if slowly:
// the answer comes when the task is done) and a script that starts the
// task with fetch and watches the meter.
var page = template.Must(template.New("progress").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Progress</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>Progress</h1>
<style>
.meter{border:1px solid #888;border-radius:4px;height:1.8em;margin:1em 0;background:#eee}
#bar{height:100%;width:0%;background:#5a9;border-radius:3px;line-height:1.8em;text-indent:.5em;white-space:nowrap;overflow:visible}
</style>
<p>Start runs a task of {{.Steps}} {{.Unit}}, {{.Step}} each, in this browser's session goroutine.
While the session works, this page watches the meter at
<code>_progress_status/work</code>, which the server answers by itself.</p>
<form method="post" action="start" id="form"><button type="submit" id="start">Start</button></form>
<div class="meter"><div id="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0">0%</div></div>
<p id="state">Not started.</p>
<p>Transport: <span id="transport">none yet</span></p>
<ul id="messages"></ul>
<script>
(function () {
  "use strict";
  var url = "_progress_status/work";
  var form = document.getElementById("form"), btn = document.getElementById("start"),
      bar = document.getElementById("bar"), state = document.getElementById("state"),
      list = document.getElementById("messages"), transport = document.getElementById("transport");
  var forcePoll = /(^|[?&])transport=poll(&|$)/.test(location.search);
  var last = null, finished = false;

  function show(s) {
    if (last && s.version <= last.version) return; // old news
    last = s;
    var pct = s.total > 0 ? Math.max(0, Math.min(100, Math.floor(100 * s.count / s.total))) : 0;
    bar.style.width = pct + "%";
    bar.textContent = pct + "%";
    bar.setAttribute("aria-valuenow", pct);
    state.textContent = (s.in_progress ? "Working: " : "Finished: ") + s.count + " of " + s.total +
      (s.status ? " (" + s.status + ")" : "");
    list.textContent = "";
    s.messages.forEach(function (m) {
      var li = document.createElement("li");
      li.textContent = m;
      list.appendChild(li);
    });
    if (!s.in_progress) {
      finished = true;
      btn.disabled = false;
    }
  }

  function stop(msg) {
    state.textContent = msg;
    btn.disabled = false;
  }

  // Server-Sent Events: one event per change; EventSource reconnects by
  // itself after a dropped connection, resuming after the last event.
  function watch() {
    finished = false;
    if (forcePoll || !window.EventSource) {
      poll(0);
      return;
    }
    transport.textContent = "Server-Sent Events";
    var es = new EventSource(url), got = false;
    es.onmessage = function (e) {
      got = true;
      var s = JSON.parse(e.data);
      show(s);
      if (!s.in_progress) es.close();
    };
    es.onerror = function () {
      if (finished) {
        es.close();
      } else if (!got || es.readyState === EventSource.CLOSED) {
        es.close();
        poll(0); // no stream to be had: fall back to long-polling
      }
    };
  }

  // Long-polling: each request waits until the meter changes.
  function poll(failures) {
    transport.textContent = "long-polling";
    var q = last ? "?wait=25&since=" + last.count + "&version=" + last.version : "?wait=25&since=-1";
    fetch(url + q, {cache: "no-store", credentials: "same-origin"}).then(function (resp) {
      if (resp.status === 404) throw "gone";
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      return resp.json();
    }).then(function (s) {
      show(s);
      if (s.in_progress) poll(0);
    }).catch(function (err) {
      if (err === "gone") stop("The task is gone.");
      else if (failures < 5) setTimeout(function () { poll(failures + 1); }, 1000);
      else stop("Lost contact with the server.");
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    btn.disabled = true;
    state.textContent = "Starting…";
    // The answer's head comes once the meter runs; its body only when the
    // task is done, and nothing here needs it.
    fetch("start", {method: "POST", cache: "no-store", credentials: "same-origin"}).then(function (resp) {
      if (resp.ok || resp.status === 409) watch();
      else stop("Could not start: HTTP " + resp.status);
    }, function () { stop("Could not start."); });
  });
})();
</script>
</body>
</html>
`))

func main() {
	steps, step := defaultSteps, defaultStep
	demo.Main(func(c demo.Config) (demo.Server, error) {
		return continuity.New(work(steps, step), c.Options())
	}, taskFlags(&steps, &step))
}
