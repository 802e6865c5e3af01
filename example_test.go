package continuity_test

import (
	"context"
	"expvar"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/continuity-go/continuity"
)

// A whole multi-step form is one function: the name read at the first step
// is still in a local variable at the last.
func ExampleNew() {
	app := func(r *continuity.Request) {
		r.Print(`<form>Name: <input name="name"></form>`)
		name := r.Next().Param("name")
		r.Print(`<form>Age: <input name="age"></form>`)
		age, _ := strconv.Atoi(r.Next().Param("age"))
		r.Printf("Hello, %s! Next year you will be %d.", html.EscapeString(name), age+1)
	}
	srv, err := continuity.New(app, nil)
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	for _, q := range []url.Values{nil, {"name": {"Ada"}}, {"age": {"36"}}} {
		resp, _ := browser.Get(ts.URL + "/?" + q.Encode())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// <form>Name: <input name="name"></form>
	// <form>Age: <input name="age"></form>
	// Hello, Ada! Next year you will be 37.
}

// Next blocks until the same browser's next request; the loop's counter
// lives as long as the session.
func ExampleRequest_Next() {
	app := func(r *continuity.Request) {
		for count := 1; ; count++ {
			r.Printf(`<span id="count">%d</span>`, count)
			r.Next()
		}
	}
	srv, _ := continuity.New(app, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	for range 3 {
		resp, _ := browser.Get(ts.URL)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// <span id="count">1</span>
	// <span id="count">2</span>
	// <span id="count">3</span>
}

// Shutdown ends every session: Next ends each session goroutine, so its
// deferred calls run, and Shutdown returns once they have.
func ExampleServer_Shutdown() {
	ended := make(chan string, 1)
	app := func(r *continuity.Request) {
		defer func() { ended <- context.Cause(r.Context()).Error() }()
		for {
			r.Print("working")
			r.Next()
		}
	}
	srv, _ := continuity.New(app, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	resp, _ := http.Get(ts.URL)
	resp.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	fmt.Println(srv.Shutdown(ctx))
	fmt.Println(<-ended)
	// Output:
	// <nil>
	// continuity: server shutdown
}

// A Server is an http.Handler, so it mounts under a prefix in any mux. Give
// its cookie the prefix as Path so that several servers can share a host.
func ExampleServer_ServeHTTP() {
	app := func(r *continuity.Request) {
		r.Printf("you asked for %s", r.Path())
	}
	srv, _ := continuity.New(app, &continuity.Options{CookiePath: "/app/"})
	defer srv.Close()

	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", srv))
	ts := httptest.NewServer(mux)
	defer ts.Close()

	resp, _ := http.Get(ts.URL + "/app/report")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output: you asked for /report
}

// Metrics is the one snapshot of what a server holds and has done;
// MetricsHandler serves the same as JSON. expvar takes it as a Func, under
// a name the application chooses (the library publishes nothing itself).
func ExampleServer_Metrics() {
	srv, _ := continuity.New(func(r *continuity.Request) {
		for {
			r.Print("hi")
			r.Next()
		}
	}, nil)
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	resp, _ := http.Get(ts.URL)
	resp.Body.Close()

	m := srv.Metrics()
	fmt.Println(m.LiveSessions, m.SessionsCreated, m.Requests["served"])

	// In a real program: publish it once, at start-up.
	_ = expvar.Func(func() any { return srv.Metrics() })
	// Output: 1 1 1
}

// The server's lifecycle and every session's end, in one place. Cleanups
// registered by a session run before its SessionEnd hook, however it ends.
func ExampleHooks() {
	var log []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		log = append(log, s)
	}
	srv, _ := continuity.New(func(r *continuity.Request) {
		r.Session().Cleanup(func() { note("cleanup") })
		r.Print("bye") // returning ends the session
	}, &continuity.Options{Hooks: continuity.Hooks{
		ServerStart: func() { note("server start") },
		SessionEnd:  func(_ *continuity.Session, why error) { note("session end: " + why.Error()) },
		ServerStop:  func() { note("server stop") },
	}})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	resp, _ := http.Get(ts.URL)
	resp.Body.Close()
	srv.Shutdown(context.Background())

	mu.Lock()
	defer mu.Unlock()
	fmt.Println(strings.Join(log, "\n"))
	// Output:
	// server start
	// cleanup
	// session end: continuity: session finished
	// server stop
}
