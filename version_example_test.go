package continuity_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"sync/atomic"

	"github.com/continuity-go/continuity"
)

// A deploy adds a step to a flow while sessions are in it. Behind
// Version, a session recorded by the old code keeps the old path when it
// is replayed (here by a reload; after a takeover on another node alike),
// and a new session takes the new one.
func ExampleRequest_Version() {
	var deployed atomic.Bool // which code runs: the test's stand-in for a deploy
	app := func(r *continuity.Request) {
		r.Printf(`<form method="post">%s Name: <input name="name"></form>`, r.StepField())
		name := r.Next().Param("name")
		phone := "none"
		if deployed.Load() && r.Version("ask-phone", 1) >= 1 {
			r.Printf(`<form method="post">%s Phone: <input name="phone"></form>`, r.StepField())
			phone = r.Next().Param("phone")
		}
		for {
			r.Printf("%s, phone %s", name, phone)
			r.Next()
		}
	}
	srv, _ := continuity.New(app, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	newBrowser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	show := func(c *http.Client, url string) string {
		resp, _ := c.Get(url)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(body)
	}
	stepToken := regexp.MustCompile(`name="k" value="([^"]+)"`)
	submit := func(c *http.Client, page, field, value string) string {
		token := stepToken.FindStringSubmatch(page)[1]
		resp, _ := c.PostForm(ts.URL, map[string][]string{"k": {token}, field: {value}})
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(body)
	}

	old := newBrowser()
	fmt.Println(submit(old, show(old, ts.URL), "name", "Ada"))
	deployed.Store(true)
	fmt.Println(show(old, ts.URL)) // a reload: replayed by the new code

	fresh := newBrowser()
	page := submit(fresh, show(fresh, ts.URL), "name", "Bo")
	fmt.Println(submit(fresh, page, "phone", "555"))
	// Output:
	// Ada, phone none
	// Ada, phone none
	// Bo, phone 555
}
