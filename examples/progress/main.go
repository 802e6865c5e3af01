// Command progress shows a live progress bar for slow work done in a
// session: the page's Start button runs a task of -steps steps of -step
// each in the session goroutine, under the progress meter "work", and the
// bar follows it through GET _progress_status/work, which the server
// answers itself while the session is busy: by Server-Sent Events, or by
// long-polling where those fail.
//
//	go run ./examples/progress [-steps 50] [-step 100ms] [-addr localhost:8080] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
package main

import (
	"errors"
	"flag"
	"strconv"
	"time"

	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func main() {
	steps, step := apps.DefaultProgressSteps, apps.DefaultProgressStep
	demo.Main(func(c demo.Config) (demo.Server, error) {
		return demo.App(apps.Progress(steps, step))(c)
	}, taskFlags(&steps, &step))
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
