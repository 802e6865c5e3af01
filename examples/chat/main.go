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
	"flag"
	"time"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/apps"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

func main() {
	wait := apps.DefaultChatWait
	demo.Main(func(c demo.Config) (demo.Server, error) {
		opts := c.Options()
		apps.ChatOptions(opts)
		return continuity.New(apps.NewChat(wait).App, opts)
	}, waitFlag(&wait))
}

// waitFlag adds -wait DURATION to the flags every example shares.
func waitFlag(wait *time.Duration) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.Func("wait", "bound a long poll with no message to `duration` (default 25s)", demo.PositiveDuration(wait, false))
	}
}
