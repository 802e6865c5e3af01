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
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func main() {
	steps, step, rest, err := taskFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "progress: %v\n", err)
		os.Exit(2)
	}
	os.Args = append(os.Args[:1], rest...)
	demo.Main(demo.App(apps.Progress(steps, step)))
}

// taskFlags takes -steps N and -step DURATION (or --steps, -steps=N, …)
// out of args, which demo.Main then parses with the flags every example
// shares.
func taskFlags(args []string) (steps int, step time.Duration, rest []string, err error) {
	steps, step = apps.DefaultProgressSteps, apps.DefaultProgressStep
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "steps" && name != "step") {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 == len(args) {
				return 0, 0, nil, fmt.Errorf("flag needs an argument: -%s", name)
			}
			i++
			val = args[i]
		}
		if name == "steps" {
			if steps, err = strconv.Atoi(val); err != nil || steps < 1 {
				return 0, 0, nil, fmt.Errorf("invalid value %q for -steps: want a whole number of at least 1", val)
			}
			continue
		}
		if step, err = time.ParseDuration(val); err != nil || step < 0 {
			return 0, 0, nil, fmt.Errorf("invalid value %q for -step: want a duration such as 100ms", val)
		}
	}
	return steps, step, rest, nil
}
