// Command counter counts a browser's requests with a local variable in a
// loop: each page shows the next number. A new browser starts at 1.
//
//	go run ./examples/counter [-addr localhost:8080] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
package main

import (
	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func main() { demo.Main(demo.App(apps.Counter)) }
