package main

import (
	. "strings"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func flow(r *continuity.Request) { r.Print(ToUpper("x")); r.Next() }

func main() { demo.Main(demo.App(flow)) }
