// Command callbacks binds links and buttons to Go closures: "+1" and "-1"
// change a number that lives in a local variable.
//
//	go run ./examples/callbacks [-addr localhost:8080] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
package main

import (
	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func main() { demo.Main(demo.App(apps.Callbacks)) }
