// Command tour serves every example in one process, each under its own
// path (/counter/, /hello/, …), with an index page at /.
//
//	go run ./examples/tour [-addr localhost:8080] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// Each example is its own continuity server with its own sessions and
// cookie (scoped to its path); -idle and -max-sessions apply to each, and
// -docroot is served under every example's path.
package main

import "github.com/continuity-go/continuity/examples/internal/demo"

func main() {
	demo.Main(func(c demo.Config) (demo.Server, error) {
		t, err := newTour(c, examples)
		if err != nil {
			return nil, err
		}
		return t, nil
	})
}
