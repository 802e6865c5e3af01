package main

import (
	_ "embed"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

//go:embed page.html
var page string

func flow(r *continuity.Request) { r.Print(page); r.Next() }

func main() { demo.Main(demo.App(flow)) }
