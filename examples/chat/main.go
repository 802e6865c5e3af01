// Command chat is Continuity's AJAX push chat: open it in two browsers,
// post in one, and the message appears in the other at once. Each browser
// holds a session per path (ByCookie|ByPath): one shows the page, one
// takes the messages it posts (POST send), and one waits in a long poll
// (GET receive?since=ID) or a Server-Sent Events stream (GET events) until
// anyone posts.
//
//	go run ./examples/chat [-wait 25s] [-addr localhost:8080] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// -wait bounds a long poll that has no message to answer with; keep it
// under the server's 30s queue timeout.
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func main() {
	wait, rest, err := waitFlag(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "chat: %v\n", err)
		os.Exit(2)
	}
	os.Args = append(os.Args[:1], rest...)
	demo.Main(func(c demo.Config) (demo.Server, error) {
		opts := c.Options()
		apps.ChatOptions(opts)
		return continuity.New(apps.NewChat(wait).App, opts)
	})
}

// waitFlag takes -wait (or --wait) DURATION out of args, which demo.Main
// then parses with the flags every example shares.
func waitFlag(args []string) (time.Duration, []string, error) {
	wait := apps.DefaultChatWait
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "wait" {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 == len(args) {
				return 0, nil, fmt.Errorf("flag needs an argument: -wait")
			}
			i++
			val = args[i]
		}
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return 0, nil, fmt.Errorf("invalid value %q for -wait: want a positive duration such as 25s", val)
		}
		wait = d
	}
	return wait, rest, nil
}
