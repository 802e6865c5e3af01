// Command guess is a number guessing game: guess a number from 1 to 100;
// each answer says too low, too high or correct, and then a new game
// begins.
//
//	go run ./examples/guess [-addr localhost:8080] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
package main

import (
	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func main() { demo.Main(demo.App(apps.Guess(nil))) }
