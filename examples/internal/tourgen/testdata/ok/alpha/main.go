// Command alpha shows the generator's renaming. It has no directives.
package main

import (
	"math/rand"
	"strings"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// counter has a field named as a top-level variable.
type counter struct{ count int }

var count = 3

func (c *counter) page() int { return c.count + count }

func flow(r *continuity.Request) {
	c := counter{count: count}
	r.Printf("%d %d %s", c.page(), rand.Intn(2), strings.ToUpper("x"))
	r.Next()
}

func main() {
	app := flow
	demo.Main(demo.App(app))
}
