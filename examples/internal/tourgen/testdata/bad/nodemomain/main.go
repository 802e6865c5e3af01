package main

import (
	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func flow(r *continuity.Request) { r.Next() }

func main() { _ = demo.App(flow) }
