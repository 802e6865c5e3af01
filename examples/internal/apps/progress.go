package apps

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/progress"
)

// Defaults of the progress example.
const (
	DefaultProgressSteps = 50
	DefaultProgressStep  = 100 * time.Millisecond
)

// ProgressMeter is the name of the progress example's meter; its status
// is at _progress_status/work relative to the page.
const ProgressMeter = "work"

// Progress returns the progress-meter example. GET / is a page with a
// Start button and a progress bar (<div id="bar">, whose width and text
// are the percentage done). The button sends start (GET and POST both
// work), which runs the task in the session goroutine itself: steps steps
// of step each under the meter "work", adding a message every 10 steps.
// The start request is answered at once with a first line,
// {"started":true}, and stays open until the task ends ({"done":true});
// meanwhile the session is busy, and the page watches
// _progress_status/work, which the server answers outside the session,
// by Server-Sent Events, or by long-polling where EventSource is missing
// or fails (or the page's URL has ?transport=poll). A start the meter
// refuses gets 400 (an invalid progress_id), 409 (already running), 429
// or 503 with Retry-After (too many meters) and {"error":"why"}.
func Progress(steps int, step time.Duration) func(*continuity.Request) {
	if steps < 1 {
		steps = DefaultProgressSteps
	}
	step = max(step, 0)
	body := fmt.Sprintf(progressBody, steps, plural(steps, "step", "steps"), step)
	return func(r *continuity.Request) {
		for {
			if r.Path() == "/start" || strings.HasSuffix(r.Path(), "/start") {
				progressTask(r, steps, step)
			} else {
				page(r, "Progress", body)
			}
			r.Next()
		}
	}
}

// progressTask runs the work for one start request. A start the meter
// refuses is answered with a status and a line that says why.
func progressTask(r *continuity.Request, steps int, step time.Duration) {
	r.Header().Set("Content-Type", "application/x-ndjson")
	started := false
	err := progress.Run(r, ProgressMeter, func(m *progress.Meter) error {
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
		refuseStart(r, http.StatusConflict, "already running")
	case errors.Is(err, progress.ErrBadName):
		refuseStart(r, http.StatusBadRequest, "invalid "+progress.IDParam+": it must be 1 to "+strconv.Itoa(progress.MaxNameLen)+" bytes, without slashes, backslashes, double dots or control characters")
	case errors.Is(err, progress.ErrTooMany):
		refuseStart(r, http.StatusTooManyRequests, "too many progress meters in this session")
	case errors.Is(err, progress.ErrFull):
		r.Header().Set("Retry-After", "5")
		refuseStart(r, http.StatusServiceUnavailable, "server busy: too many progress meters; try again later")
	default:
		refuseStart(r, http.StatusServiceUnavailable, "the task could not start")
	}
}

// refuseStart answers a start that did not start; msg has nothing to
// escape in JSON.
func refuseStart(r *continuity.Request, code int, msg string) {
	r.SetStatus(code)
	r.WriteString(`{"error":"` + msg + `"}` + "\n")
}

// progressBody is the page: a form (which works without JavaScript, if
// slowly: the answer comes when the task is done) and a script that
// starts the task with fetch and watches the meter.
const progressBody = `<style>
.meter{border:1px solid #888;border-radius:4px;height:1.8em;margin:1em 0;background:#eee}
#bar{height:100%%;width:0%%;background:#5a9;border-radius:3px;line-height:1.8em;text-indent:.5em;white-space:nowrap;overflow:visible}
</style>
<p>Start runs a task of %d %s, %v each, in this browser's session goroutine.
While the session works, this page watches the meter at
<code>_progress_status/work</code>, which the server answers by itself.</p>
<form method="post" action="start" id="form"><button type="submit" id="start">Start</button></form>
<div class="meter"><div id="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0">0%%</div></div>
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
    bar.style.width = pct + "%%";
    bar.textContent = pct + "%%";
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
</script>`
