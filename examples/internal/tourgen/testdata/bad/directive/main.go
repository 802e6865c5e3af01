// Command directive misspells a directive.
//
//tour:titel Oops
package main

import (
	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func flow(r *continuity.Request) { r.Next() }

func main() { demo.Main(demo.App(flow)) }
