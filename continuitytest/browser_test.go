package continuitytest_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/continuitytest"
	"github.com/continuity-go/continuity/progress"
)

// serve returns a continuity server for app that is shut down when the
// test ends (inside a synctest bubble: when the bubble's test ends).
func serve(t testing.TB, app func(*continuity.Request), opts *continuity.Options) *continuity.Server {
	t.Helper()
	if opts == nil {
		opts = &continuity.Options{}
	}
	srv, err := continuity.New(app, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
	})
	return srv
}

// counter counts a browser's requests, with a link to count again.
func counter(r *continuity.Request) {
	for n := 1; ; n++ {
		r.Printf(`<p>count <span id="n">%d</span></p><a href="?">again</a>`, n)
		r.Next()
	}
}

// inputs records what a flow received, safely across goroutines.
type inputs struct {
	mu  sync.Mutex
	got []string
}

func (in *inputs) add(s string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.got = append(in.got, s)
}

func (in *inputs) all() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.got...)
}

// stepper renders a numbered step whose form carries the step in a hidden
// field k, as step tokens do, and records each submission as "k:name".
func stepper(in *inputs) func(*continuity.Request) {
	return func(r *continuity.Request) {
		for i := 1; ; i++ {
			r.Printf(`<h1>step %d</h1><form method="post"><input type="hidden" name="k" value="s%[1]d"><input name="name"></form>`, i)
			r.Next()
			in.add(r.Param("k") + ":" + r.Param("name"))
		}
	}
}

func TestCounterCountsPerBrowser(t *testing.T) {
	srv := serve(t, counter, nil)
	b := continuitytest.New(t, srv)
	for want := 1; want <= 3; want++ {
		p := b.Get("/")
		require.Equal(t, http.StatusOK, p.Status)
		assert.Equal(t, fmt.Sprintf("count %d again", want), p.Text())
	}
	assert.Equal(t, "count 4 again", b.Click("again").Text(), "a link counts too")
	other := continuitytest.New(t, srv)
	assert.Equal(t, "count 1 again", other.Get("/").Text(), "another browser has its own session")
	assert.Equal(t, "count 5 again", b.Reload().Text())
}

func TestFormFlowPostRedirectGet(t *testing.T) {
	var methods inputs
	app := func(r *continuity.Request) {
		r.Print(`<form method="post" action="save"><input name="name"><select name="color"><option>red<option selected>green</select>` +
			`<input type="checkbox" name="news" value="yes"><textarea name="note">hi</textarea><input type="submit" value="Save"></form>`)
		r.Next()
		methods.add(r.Method() + " " + r.Path())
		name, color, news, note := r.Param("name"), r.Param("color"), r.Param("news"), r.Param("note")
		r.Redirect("done", http.StatusSeeOther)
		for {
			r.Next()
			methods.add(r.Method() + " " + r.Path())
			r.Printf(`<p>%s likes %s, news=%q, note=%q</p>`, html.EscapeString(name), color, news, note)
		}
	}
	srv := serve(t, app, nil)
	b := continuitytest.New(t, srv)
	form := b.Get("/").Form("")
	assert.Equal(t, http.MethodPost, form.Method)
	assert.Equal(t, continuitytest.BaseURL+"save", form.Action.String())
	assert.Equal(t, "green", form.Value("color"))
	assert.Equal(t, "hi", form.Value("note"))

	p := b.Submit(map[string]string{"name": "Ada", "news": "yes", "color": "red"})
	assert.Equal(t, `Ada likes red, news="yes", note="hi"`, p.Text())
	assert.Equal(t, continuitytest.BaseURL+"done", p.URL.String())
	require.Len(t, p.Redirects, 1)
	assert.Equal(t, http.StatusSeeOther, p.Redirects[0].Status)
	assert.Equal(t, http.MethodPost, p.Redirects[0].Method)
	assert.Equal(t, continuitytest.BaseURL+"save", p.Redirects[0].URL.String())
	assert.Equal(t, []string{"POST /save", "GET /done"}, methods.all(), "303 turns the POST into a GET")

	b.Reload()
	assert.Equal(t, []string{"POST /save", "GET /done", "GET /done"}, methods.all(), "a reload after a redirect GETs the result again")
}

func TestClickAndPressRunCallbacks(t *testing.T) {
	app := func(r *continuity.Request) {
		n := 0
		for {
			r.Printf(`<p>n=%d</p> %s %s <form method="post">%s %s</form>`, n,
				r.Link("+1", func() { n++ }), r.Link("-1", func() { n-- }),
				r.Button("Double", func() { n *= 2 }), r.Button("Reset", func() { n = 0 }))
			r.Next()
			r.RunCallbacks()
		}
	}
	b := continuitytest.New(t, serve(t, app, nil))
	assert.Contains(t, b.Get("/").Text(), "n=0")
	assert.Contains(t, b.Click("+1").Text(), "n=1")
	assert.Contains(t, b.Click("+1").Text(), "n=2")
	assert.Contains(t, b.Press("Double", nil).Text(), "n=4")
	assert.Contains(t, b.Click("-1").Text(), "n=3")
	assert.Contains(t, b.Submit(nil).Text(), "n=6", "Enter presses the first button")
	assert.Contains(t, b.Press("Reset", nil).Text(), "n=0")
	b.Back()
	assert.Contains(t, b.Click("+1").Text(), "n=0", "a link from an older page runs nothing: callbacks work once per render")
}

func TestBackShowsTheOldPageAndSubmitSendsItsHiddenField(t *testing.T) {
	var in inputs
	var requests atomic.Int32
	srv := serve(t, stepper(&in), nil)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		srv.ServeHTTP(w, r)
	})
	b := continuitytest.New(t, counted)
	b.Get("/")
	b.Submit(map[string]string{"name": "a"})
	p3 := b.Submit(map[string]string{"name": "b"})
	assert.Equal(t, "s3", p3.Form("").Value("k"))
	require.EqualValues(t, 3, requests.Load())

	p2 := b.Back()
	assert.Equal(t, "step 2", p2.Text())
	p1 := b.Back()
	assert.Equal(t, "step 1", p1.Text())
	assert.EqualValues(t, 3, requests.Load(), "Back makes no request")
	assert.Same(t, p2, b.Forward())
	b.Back()

	p := b.Submit(map[string]string{"name": "c"})
	assert.Equal(t, "step 4", p.Text(), "the flow has only moved on")
	assert.Equal(t, []string{"s1:a", "s2:b", "s1:c"}, in.all(), "the old page's hidden k was sent")
	assert.Same(t, p, b.Page())
	b.Back()
	assert.Same(t, p1, b.Page(), "submitting from an older page drops the pages after it")
}

func TestResubmitSendsTheLastFormAgain(t *testing.T) {
	var in inputs
	b := continuitytest.New(t, serve(t, stepper(&in), nil))
	b.Get("/")
	b.Submit(map[string]string{"name": "a"})
	b.Get("/")
	assert.Equal(t, "step 4", b.Resubmit().Text())
	assert.Equal(t, []string{"s1:a", ":", "s1:a"}, in.all(), "the GET in between sent no fields")
}

func TestReloadResendsAPost(t *testing.T) {
	var in inputs
	b := continuitytest.New(t, serve(t, stepper(&in), nil))
	b.Get("/")
	b.Submit(map[string]string{"name": "a"})
	p := b.Reload()
	assert.Equal(t, "step 3", p.Text())
	assert.Equal(t, []string{"s1:a", "s1:a"}, in.all(), "the POST is sent again, fields and all")
	b.Back()
	assert.Equal(t, "step 1", b.Page().Text(), "the reloaded page replaced the current one in the history")
}

func TestNewTabSharesTheSession(t *testing.T) {
	b := continuitytest.New(t, serve(t, counter, nil))
	assert.Equal(t, "count 1 again", b.Get("/").Text())
	tab := b.NewTab()
	assert.Nil(t, tab.Page(), "a new tab has an empty history")
	assert.Equal(t, "count 2 again", tab.Get("/").Text(), "same cookie, same session")
	assert.Equal(t, "count 1 again", b.Page().Text(), "the first tab shows its page until it reloads")
	assert.Equal(t, "count 3 again", b.Reload().Text())
}

func TestDoubleSubmitSendsBothAtOnce(t *testing.T) {
	// A plain handler that answers only once both requests are in: it
	// proves they were in flight together.
	var arrived sync.WaitGroup
	arrived.Add(2)
	var bodies inputs
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `<form method="post"><input type="hidden" name="k" value="t1"><input name="x"></form>`)
			return
		}
		require.NoError(t, r.ParseForm())
		bodies.add(r.PostForm.Encode())
		arrived.Done()
		arrived.Wait()
		fmt.Fprint(w, "<p>ok</p>")
	})
	b := continuitytest.New(t, h)
	b.Get("/")
	first, second := b.DoubleSubmit(map[string]string{"x": "1"})
	assert.Equal(t, "ok", first.Text())
	assert.Equal(t, "ok", second.Text())
	assert.Equal(t, []string{"k=t1&x=1", "k=t1&x=1"}, bodies.all())
	assert.Same(t, second, b.Page())
}

func TestDoubleSubmitToAFlow(t *testing.T) {
	var in inputs
	b := continuitytest.New(t, serve(t, stepper(&in), nil))
	b.Get("/")
	first, second := b.DoubleSubmit(map[string]string{"name": "a"})
	// Today a session takes them in turn; step tokens will make the
	// second one get the first's page.
	assert.ElementsMatch(t, []string{"step 2", "step 3"}, []string{first.Text(), second.Text()})
	assert.Equal(t, []string{"s1:a", "s1:a"}, in.all())
}

func TestIdleBrowserGetsANewSessionAfterIdleTimeout(t *testing.T) {
	bubble(t, func(t *testing.T) {
		const idle = time.Minute
		srv := serve(t, counter, &continuity.Options{IdleTimeout: idle})
		b := continuitytest.New(t, srv)
		assert.Equal(t, "count 1 again", b.Get("/").Text())
		time.Sleep(idle - time.Nanosecond)
		assert.Equal(t, "count 2 again", b.Get("/").Text(), "not idle for IdleTimeout yet")
		// The reaper looks every quarter of IdleTimeout, so a session
		// outlives it by at most that.
		time.Sleep(idle + idle/4 + time.Nanosecond)
		assert.Equal(t, "count 1 again", b.Get("/").Text(), "the session expired: a new one")
		assert.Equal(t, 1, srv.Metrics().LiveSessions)
	})
}

func TestWaitProgressLongPollsUntilDone(t *testing.T) {
	bubble(t, func(t *testing.T) {
		const steps = 5
		app := func(r *continuity.Request) {
			for {
				if r.Path() != "/start" {
					r.Print(`<a href="start">start</a>`)
					r.Next()
					continue
				}
				err := progress.Run(r, "work", func(m *progress.Meter) error {
					for i := range steps {
						time.Sleep(time.Second)
						m.Inc()
						m.Message(fmt.Sprint("step ", i+1))
					}
					return nil
				}, progress.Total(steps))
				r.Printf("done %v", err)
				r.Next()
			}
		}
		b := continuitytest.New(t, serve(t, app, nil))
		b.Get("/")
		start := time.Now()
		pd := b.Fetch("start")
		st := b.WaitProgress("work")
		assert.False(t, st.InProgress)
		assert.Equal(t, steps, st.Count)
		assert.Equal(t, steps, st.Total)
		assert.Equal(t, "work", st.Name)
		assert.Contains(t, st.Messages, "step 5")
		assert.Equal(t, steps*time.Second, time.Since(start), "it waited exactly as long as the work took")
		assert.Equal(t, "done <nil>", pd.Wait().Body)
	})
}

func TestRemoteBrowserOverRealHTTP(t *testing.T) {
	var in inputs
	srv := serve(t, stepper(&in), nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	b := continuitytest.NewRemote(t, ts.URL, ts.Client().Transport)
	b.Get("/")
	b.Submit(map[string]string{"name": "a"})
	b.Back()
	assert.Equal(t, "step 3", b.Submit(map[string]string{"name": "b"}).Text())
	assert.Equal(t, []string{"s1:a", "s1:b"}, in.all())
	assert.Equal(t, "step 4", b.NewTab().Get("/").Text(), "tabs share cookies over the wire too")
}

func TestMountedUnderAPrefix(t *testing.T) {
	srv := serve(t, counter, &continuity.Options{CookiePath: "/app/"})
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", srv))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	b := continuitytest.NewRemote(t, ts.URL+"/app", nil)
	assert.Equal(t, "count 1 again", b.Get("").Text())
	p := b.Click("again")
	assert.Equal(t, "/app/", p.URL.Path)
	assert.Equal(t, "count 2 again", p.Text())
}

func TestRedirects(t *testing.T) {
	h := http.NewServeMux()
	h.HandleFunc("/post", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<form method="post" action="t307"><input name="x" value="1"></form>`+
			`<form name="found" method="post" action="found"><input name="x" value="2"></form>`)
	})
	h.HandleFunc("/t307", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo#frag", http.StatusTemporaryRedirect)
	})
	h.HandleFunc("/found", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo", http.StatusFound)
	})
	h.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	h.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		fmt.Fprintf(w, "%s x=%s origin=%s site=%s", r.Method, r.PostForm.Get("x"), r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site"))
	})
	b := continuitytest.New(t, h)
	b.Get("/post")
	p := b.Submit(nil)
	assert.Equal(t, "POST x=1 origin=http://continuity.test site=same-origin", p.Body, "307 keeps the method and body")
	assert.Equal(t, continuitytest.BaseURL+"echo", p.URL.String())
	b.Back()
	p = b.SubmitForm("found", nil)
	assert.Equal(t, "GET x= origin= site=same-origin", p.Body, "302 turns a POST into a GET, as browsers do")
	assert.Equal(t, "GET x= origin= site=none", b.Get("/echo").Body, "a typed address is not from any site")

	msg := fails(t, func(tb testing.TB) { continuitytest.New(tb, h).Get("/loop") })
	assert.Contains(t, msg, "more than 20 redirects")
}

func TestMistakesFailTheTest(t *testing.T) {
	page := `<p>hi</p><a href="x">there</a><form name="f"><input name="a"><input type="radio" name="r" value="1"><select name="s"><option>o</select>` +
		`<input type="file" name="up"><button name="b" value="v">Go</button></form>`
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page)
	})
	for _, tc := range []struct {
		name string
		op   func(*continuitytest.Browser)
		want string
	}{
		{"no page", func(b *continuitytest.Browser) { b.Submit(nil) }, "no page yet"},
		{"no field", func(b *continuitytest.Browser) { b.Get("/"); b.Submit(map[string]string{"nope": "1"}) }, `no field "nope" (fields: a, r, s, up)`},
		{"no form", func(b *continuitytest.Browser) { b.Get("/"); b.SubmitForm("g", nil) }, `no form named "g"`},
		{"no link", func(b *continuitytest.Browser) { b.Get("/"); b.Click("here") }, `no link "here" (links: "there")`},
		{"no button", func(b *continuitytest.Browser) { b.Get("/"); b.Press("Stop", nil) }, `no submit button "Stop" (buttons: "Go")`},
		{"no radio", func(b *continuitytest.Browser) { b.Get("/"); b.Submit(map[string]string{"r": "2"}) }, `no radio "r" with value "2"`},
		{"no option", func(b *continuitytest.Browser) { b.Get("/"); b.Submit(map[string]string{"s": "p"}) }, `select "s" has no option "p"`},
		{"file", func(b *continuitytest.Browser) { b.Get("/"); b.Submit(map[string]string{"up": "p"}) }, `file inputs are not supported`},
		{"back", func(b *continuitytest.Browser) { b.Get("/"); b.Back() }, "no previous page"},
		{"forward", func(b *continuitytest.Browser) { b.Get("/"); b.Forward() }, "no next page"},
		{"resubmit", func(b *continuitytest.Browser) { b.Get("/"); b.Resubmit() }, "no form submitted yet"},
		{"bad ref", func(b *continuitytest.Browser) { b.Get("%zz") }, `Get "%zz"`},
		{"progress", func(b *continuitytest.Browser) { b.WaitProgress("work") }, "WaitProgress: GET " + continuitytest.BaseURL + "_progress_status/work: invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := fails(t, func(tb testing.TB) { tc.op(continuitytest.New(tb, h)) })
			assert.Contains(t, msg, tc.want)
		})
	}
}

func TestProgressNotFoundFailsAtOnceWithNothingInFlight(t *testing.T) {
	srv := serve(t, counter, nil)
	msg := fails(t, func(tb testing.TB) {
		br := continuitytest.New(tb, srv)
		br.Get("/")
		br.WaitProgress("work")
	})
	assert.Contains(t, msg, `: 404 {"error":"not found"}`)
}

func TestHandlerPanicFailsTheTest(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			fmt.Fprint(w, "part")
			w.(http.Flusher).Flush()
		}
		panic("boom")
	})
	assert.Contains(t, fails(t, func(tb testing.TB) { continuitytest.New(tb, h).Get("/") }), "handler panicked: boom")
	assert.Contains(t, fails(t, func(tb testing.TB) { continuitytest.New(tb, h).Get("/late") }), "reading the body: continuitytest: handler panicked: boom")
}

func TestStreamingAndHangingUp(t *testing.T) {
	bubble(t, func(t *testing.T) {
		gone := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "first")
			w.(http.Flusher).Flush()
			<-r.Context().Done() // until the client hangs up
			_, err := fmt.Fprintln(w, "second")
			gone <- err
		})
		b := continuitytest.New(t, h)
		resp, err := b.Client().Get(continuitytest.BaseURL)
		require.NoError(t, err)
		line := make([]byte, 6)
		_, err = io.ReadFull(resp.Body, line)
		require.NoError(t, err)
		assert.Equal(t, "first\n", string(line), "the head and first line arrive while the handler still runs")
		assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"), "sniffed as net/http does")
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Empty(t, gone, "the handler waits for as long as the client stays")
		resp.Body.Close()
		assert.Error(t, <-gone, "writes fail once the client has hung up")
	})
}

func TestHeadGetsNoBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "body") })
	b := continuitytest.New(t, h)
	req, err := http.NewRequest(http.MethodHead, continuitytest.BaseURL, nil)
	require.NoError(t, err)
	resp, err := b.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Empty(t, body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestRemoteAddrsDifferPerBrowserNotPerTab(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.RemoteAddr) })
	a := continuitytest.New(t, h)
	b := continuitytest.New(t, h)
	addr := a.Get("/").Body
	assert.True(t, strings.HasPrefix(addr, "[2001:db8:"), addr)
	assert.Equal(t, addr, a.NewTab().Get("/").Body)
	assert.NotEqual(t, addr, b.Get("/").Body)
}

// bubble runs f in a synctest bubble. Each server keeps its own pool of
// hand-off objects, so a server made inside the bubble shares no channel
// or timer with anything outside it.
func bubble(t *testing.T, f func(*testing.T)) { synctest.Test(t, f) }

// fakeTB is a testing.TB whose Fatalf records the message and ends the
// calling goroutine, so that a test can check that an operation fails.
type fakeTB struct {
	testing.TB
	msg string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fails runs fn with a fakeTB and returns what it failed with, or "".
func fails(t *testing.T, fn func(testing.TB)) string {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}
