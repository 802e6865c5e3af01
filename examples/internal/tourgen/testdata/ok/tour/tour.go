package main

import (
	"flag"

	"github.com/continuity-go/continuity/examples/internal/demo"
)

type example struct {
	name, title, about, source string
	main                       func(demoMain mainFunc)
}

type mainFunc = func(build demo.Build, flags ...func(*flag.FlagSet))

// strings is taken here: an example's import of it must get another name.
var strings = "taken"

func main() {
	for _, ex := range generatedExamples {
		ex.main(func(demo.Build, ...func(*flag.FlagSet)) {})
	}
}
