// Command wizard is a three-step form that the back button, a double
// click and a reload cannot confuse: step 1 asks a name, step 2 an email
// address, step 3 shows both with a Confirm button, and a last page shows
// what was confirmed.
//
//	go run ./examples/wizard [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// A flow runs forward only, so without help a browser that goes back from
// step 3 to step 1 and submits a new name would hand that name to the
// step waiting for the confirmation. Here every form carries its step's
// token in a hidden field k (r.StepField()), so the session knows which
// page a submission comes from, and the server runs with the Rewind
// policy:
//
//   - Back to step 1 and a new name: the flow goes back to step 1 (a
//     replay of its journal, with the pages discarded) and takes the new
//     name there; step 2 asks for the email again, and the done page shows
//     only the new name.
//   - Two clicks on Next: the flow advances once, and both clicks get the
//     step 2 page.
//   - A reload, or the address typed again: nothing advances; the page of
//     the current step comes back, with a note.
//
// The back button shows an earlier page only if the browser kept it:
// continuity sends pages that carry a step token with Cache-Control:
// private, no-cache (others get no-store), and the forms here post to an
// address of their own (see page), since a POST to a page's own address
// makes the browser drop its kept copy of it.
//
// Replay runs the flow again from its start with the recorded inputs, so
// it must do the same thing given the same input (see "Rules for
// replay-safe flows" in the README): this one only reads its input.
//
//tour:title Wizard
//tour:about A three-step form that the back button, a double click and a reload cannot confuse.
package main

import (
	"errors"
	"html/template"
	"strings"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// wizard is the application: each question is a function call that
// returns the answer, and the local variables are the form's state.
func wizard(r *continuity.Request) {
	for {
		name := ask(r, 1, "name", "Please type your name.", view{})
		email := ask(r, 2, "email", "Please type an email address, such as ada@example.com.", view{Name: name})
		ask(r, 3, "confirm", "Please press Confirm.", view{Name: name, Email: email})
		show(r, view{Step: 4, Name: name, Email: email})
		r.Next() // "Start again" comes back here, and the loop starts over
	}
}

// ask shows step's page until its form comes back with field filled in
// (for the email, with an @), and returns the field's value. A request
// that did not come from the step's form, such as a reload, never reaches
// this loop: the session answers it with the page again.
func ask(r *continuity.Request, step int, field, problem string, v view) string {
	v.Step = step
	for {
		show(r, v)
		// PostParam: the answers come from this application's forms,
		// which POST, never from a link another site can make.
		answer := strings.TrimSpace(r.Next().PostParam(field))
		if answer != "" && (field != "email" || strings.Contains(answer, "@")) {
			return answer
		}
		v.Problem = problem
	}
}

// view is what a page shows.
type view struct {
	Step        int // 1 to 3, and 4 for the done page
	Name, Email string
	Problem     string        // why the step asks again
	Notice      string        // why the page is shown again (a reload)
	Token       template.HTML // the hidden field k with the step's token
}

// show writes step v.Step's page, with its token in every form.
// r.Stale() tells that the page answers a request that was not this
// step's input (a reload, or the address typed again).
func show(r *continuity.Request, v view) {
	v.Token = r.StepField()
	if r.Stale() {
		v.Notice = "Nothing was sent from this page's form, so nothing changed: here is where you are."
	}
	if err := page.Execute(r, v); err != nil && !errors.Is(err, continuity.ErrClientGone) {
		panic(err) // a bug in the template: continuity answers 500 and logs it
	}
}

// page is every step's page. The forms post to "step", not to the
// address of the first page: a browser forgets what it keeps of an
// address when it posts to it (RFC 9111, section 4.4), and the back
// button would find step 1 gone. The URL is relative, so the example
// works under a prefix too (the tour's /wizard/step).
var page = template.Must(template.New("wizard").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wizard</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head>
<body>
<h1>Wizard</h1>
{{with .Notice}}<p id="notice">{{.}}</p>{{end}}
{{with .Problem}}<p id="problem">{{.}}</p>{{end}}
{{if eq .Step 1}}<h2 id="step">Step 1 of 3</h2>
<form method="post" action="step">{{.Token}}
<label>Your name: <input name="name" required autofocus></label>
<button type="submit">Next</button>
</form>
{{else if eq .Step 2}}<h2 id="step">Step 2 of 3</h2>
<p>Hello, {{.Name}}.</p>
<form method="post" action="step">{{.Token}}
<label>Your email address: <input name="email" type="email" required autofocus></label>
<button type="submit">Next</button>
</form>
{{else if eq .Step 3}}<h2 id="step">Step 3 of 3</h2>
<p>Name: <span id="name">{{.Name}}</span></p>
<p>Email: <span id="email">{{.Email}}</span></p>
<p>Use your browser's back button to change them.</p>
<form method="post" action="step">{{.Token}}
<button type="submit" name="confirm" value="yes">Confirm</button>
</form>
{{else}}<h2 id="step">Done</h2>
<p>Confirmed: <span id="name">{{.Name}}</span>, <span id="email">{{.Email}}</span>.</p>
<form method="post" action="step">{{.Token}}
<button type="submit" name="again" value="yes">Start again</button>
</form>
{{end}}</body>
</html>
`))

// build makes the server: the flow with the Rewind policy, so that a form
// of an earlier step takes the flow back to that step.
func build(c demo.Config) (demo.Server, error) {
	o := c.Options()
	o.StalePolicy = continuity.Rewind
	return continuity.New(wizard, o)
}

func main() { demo.Main(build) }
