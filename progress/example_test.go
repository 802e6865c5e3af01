package progress_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/continuity-go/continuity/progress"
	"github.com/continuity-go/continuity/request"
)

// An application (a func(*continuity.Request); continuity.Request is
// request.Request) runs an import under a meter. While it works, the page
// it served watches /_progress_status/import, which the server answers
// without waiting for this goroutine.
func ExampleRun() {
	rows := []string{"ada", "brian", "claude"}
	app := func(r *request.Request) {
		for {
			if r.Path() == "/import" {
				err := progress.Run(r, "import", func(m *progress.Meter) error {
					for i, row := range rows {
						time.Sleep(time.Second) // the slow work, with row
						m.Inc()
						m.Status(fmt.Sprintf("imported %s (%d of %d)", row, i+1, len(rows)))
					}
					return nil
				}, progress.Total(len(rows)))
				if errors.Is(err, progress.ErrRunning) {
					r.SetStatus(http.StatusConflict)
				}
			}
			r.Print(`<!doctype html><title>Import</title>…`)
			r.Next()
		}
	}
	_ = app // continuity.New(app, nil)
}

// Start and Done bracket work by hand; Running asks first, so that a
// second click does not start the work twice.
func ExampleStart() {
	app := func(r *request.Request) {
		if progress.Running(r, "report") {
			r.Print("The report is already being built.")
			return
		}
		m, err := progress.Start(r, "report", progress.Total(3), progress.InitialStatus("starting"))
		if err != nil {
			r.SetStatus(http.StatusConflict)
			return
		}
		defer m.Done()
		for _, part := range []string{"sales", "costs", "summary"} {
			m.Status("building " + part)
			m.Message(part + " done")
			m.Inc()
		}
	}
	_ = app
}
