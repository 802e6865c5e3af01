// Command hello is the Continuity synopsis: it asks for your name, says
// hello, and starts over.
//
//	go run ./examples/hello [-addr localhost:8080] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
package main

import (
	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func main() { demo.Main(demo.App(apps.Hello)) }
