// Command postredirect is Post/Redirect/Get with step tokens (Perl
// Continuity's post-redirect.pl): every form POSTs, and the POST is
// answered with a 303 redirect to a GET of the result, so that the
// browser's reload button asks for the result again instead of sending
// the form again.
//
//	go run ./examples/postredirect [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// The page tells a reload from the back button:
//
//   - reload the result, and it says RELOAD detected (nothing changes);
//   - go back to an older page and send its form, and it says BACK
//     detected (nothing changes: the older form is not used).
//
// Perl's version puts a page ID of its own in each form and keeps a table
// of the IDs it has seen. Here each form carries its step's token
// (r.StepField()), and the session, with the default Reject policy,
// answers what is not the current step's input itself, with the current
// page again: r.StaleReason() tells the page why. StaleReload: the request
// carried no token (the redirect's GET again). StaleBack: an earlier
// step's token (an older page's form). That answer is the page itself, not
// a redirect.
//
//tour:title Post/Redirect/Get
//tour:about Forms that POST and redirect; the page tells a reload from the back button.
package main

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// postRedirect is the application: a form asks for a number; its POST is
// answered with a redirect, and the GET that follows gets the page that
// shows the number, with the form again.
func postRedirect(r *continuity.Request) {
	v := view{}
	for {
		show(r, v)
		v.Chose = r.Next().PostParam("num")
		v.Count++
		// The redirect's page asks for no token: the browser's GET,
		// which has none, is the next input. The count in the address
		// gives each result an address of its own, as Perl's pageID did.
		r.Redirect("./?n="+strconv.Itoa(v.Count), http.StatusSeeOther)
		r.Next()
	}
}

// view is what the page shows.
type view struct {
	Chose    string // the number sent last
	Count    int    // how many numbers were sent
	Detected string // RELOAD or BACK, when the page answers a stale request
	Token    template.HTML
}

// show writes the page, with the step's token in its form, and says why
// when it answers a stale request.
func show(r *continuity.Request, v view) {
	v.Token = r.StepField()
	switch r.StaleReason() {
	case continuity.StaleReload:
		v.Detected = "RELOAD"
	case continuity.StaleBack:
		v.Detected = "BACK"
	}
	if err := page.Execute(r, v); err != nil && !errors.Is(err, continuity.ErrClientGone) {
		panic(err) // a bug in the template: continuity answers 500 and logs it
	}
}

// page is the form and the last number sent. The form posts to "send",
// not to the page's own address: a POST to an address makes the browser
// forget the page it keeps for that address (RFC 9111, section 4.4).
var page = template.Must(template.New("postredirect").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Post/Redirect/Get</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>Post/Redirect/Get</h1>
{{if eq .Detected "RELOAD"}}<p id="detected">RELOAD detected: this page was loaded again, and nothing was sent.</p>
{{else if eq .Detected "BACK"}}<p id="detected">BACK detected: that form was on an older page, so it was not used. Here is where you are.</p>
{{end}}{{if .Count}}<p>You chose: <span id="chose">{{.Chose}}</span> (number <span id="count">{{.Count}}</span>)</p>
{{else}}<p>Send a number, then try the reload and back buttons.</p>
{{end}}<form method="post" action="send">{{.Token}}
<label>Number: <input name="num" autocomplete="off" autofocus></label>
<button type="submit">Send</button>
</form>
</body>
</html>
`))

func main() { demo.Main(demo.App(postRedirect)) }
