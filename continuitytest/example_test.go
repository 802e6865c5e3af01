package continuitytest_test

import (
	"fmt"
	"html"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/continuitytest"
)

// A test drives a two-step form as a user would: fill in a field and
// submit, fill in the next and press the button.
func Example() {
	app := func(r *continuity.Request) {
		for {
			r.Print(`<form method="post"><label>Name <input name="name"></label><button>Next</button></form>`)
			name := r.Next().Param("name")
			r.Printf(`<form method="post"><label>Email <input name="email"></label><button>Done</button></form>`)
			email := r.Next().Param("email")
			r.Printf(`<p>Thanks, %s: we will write to %s.</p>`, html.EscapeString(name), html.EscapeString(email))
			r.Next()
		}
	}
	srv, err := continuity.New(app, nil)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	t := &exampleT{} // in a test, the test's *testing.T
	defer t.cleanup()

	b := continuitytest.New(t, srv)
	b.Get("/")
	b.Submit(map[string]string{"name": "Ada"})
	page := b.Press("Done", map[string]string{"email": "ada@example.com"})
	fmt.Println(page.Status, page.Text())
	// Output:
	// 200 Thanks, Ada: we will write to ada@example.com.
}

// exampleT stands in for the *testing.T that a test passes.
type exampleT struct{ cleanups []func() }

func (*exampleT) Helper() {}

func (*exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (e *exampleT) Cleanup(f func()) { e.cleanups = append(e.cleanups, f) }

func (e *exampleT) cleanup() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}
