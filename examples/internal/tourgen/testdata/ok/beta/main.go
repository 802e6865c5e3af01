// Command beta has the same names as alpha, and a flag of its own.
//
//tour:title Beta, the second
//tour:about Shows what the directives do.
package main

import (
	"flag"
	"math/rand/v2"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

var count = 4

func flow(r *continuity.Request) {
	r.Printf("%d", count+rand.IntN(2))
	r.Next()
}

func main() {
	n := 1
	demo.Main(demo.App(flow), func(fs *flag.FlagSet) { fs.IntVar(&n, "n", n, "a number") })
}
