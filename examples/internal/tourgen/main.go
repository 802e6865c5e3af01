// Command tourgen writes examples/tour/zz_examples.go: every example's
// code, copied into the tour's package main, so that the tour serves each
// example as its own program does, and shows its source.
//
//	cd examples/tour && go generate   # runs: go run ../internal/tourgen
//
// It reads each examples/NAME/main.go (every directory with one, but tour
// and internal), type-checks it, and copies its top-level declarations,
// but main, each name prefixed with NAME_ (and every use renamed to
// match); main's statements become a function that calls the tour's
// demoMain where main called demo.Main. It also copies the file itself,
// for the tour's source link, and the title and about line of the
// package doc's //tour:title and //tour:about directives. See the tour's
// doc comment for what an example must follow.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
)

func main() {
	root := flag.String("examples", "..", "the examples `directory`")
	out := flag.String("o", outputName, "write the tour's generated code to `file`")
	flag.Parse()
	code, err := generate(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tourgen:", err)
		os.Exit(1)
	}
	if old, err := os.ReadFile(*out); err == nil && bytes.Equal(old, code) {
		return
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "tourgen:", err)
		os.Exit(1)
	}
}
