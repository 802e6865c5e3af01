package main

import (
	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

type base struct{ n int }

type wrapper struct{ base }

func flow(r *continuity.Request) { r.Print(wrapper{}.n); r.Next() }

func main() { demo.Main(demo.App(flow)) }
