package continuity_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/continuity-go/continuity"
)

// A Topic numbers what is published; a subscriber asks for what came after
// the version it has seen, and waits if there is nothing yet.
func ExampleTopic() {
	news := continuity.NewTopic[string](0)
	news.Publish("first")
	news.Publish("second")

	evs, seen, _ := news.Since(0)
	for _, ev := range evs {
		fmt.Println(ev.Version, ev.Value)
	}

	go news.Publish("third") // another session, say
	evs, seen, _ = news.Wait(context.Background(), seen, time.Minute)
	fmt.Println(evs[0].Version, evs[0].Value, "seen:", seen)

	// Nothing new within the timeout: no events, no error.
	evs, _, err := news.Wait(context.Background(), seen, 10*time.Millisecond)
	fmt.Println(len(evs), err)
	// Output:
	// 1 first
	// 2 second
	// 3 third seen: 3
	// 0 <nil>
}

// A long poll: the session holds the browser's request until there is news
// (or 25 seconds pass), then answers and waits for the next poll. Passing
// RequestContext frees the waiter when the browser hangs up or the session
// ends.
func ExampleTopic_Wait() {
	news := continuity.NewTopic[string](0)
	app := func(r *continuity.Request) {
		var seen uint64
		for ; ; r.Next() {
			evs, next, err := news.Wait(r.RequestContext(), seen, 25*time.Second)
			if errors.Is(err, continuity.ErrBehind) {
				r.Print("(missed some)\n")
				evs, next, _ = news.Since(next)
			}
			for _, ev := range evs {
				r.Printf("%s\n", ev.Value)
			}
			seen = next
		}
	}
	_ = app
}

// A session that, between requests, waits for its browser, a timer, or a
// message from another session, whichever comes first. Arrived does not
// take the request, so one that arrives as the timer fires is not lost:
// the next Next takes it.
func ExampleRequest_Arrived() {
	room := continuity.NewTopic[string](0)
	app := func(r *continuity.Request) {
		seen := room.Version()
		var heard []string
		for {
			r.Printf("<p>Heard: %d messages.</p>", len(heard))
			r.End() // send the page; keep the session
			idle := time.NewTimer(5 * time.Minute)
		wait:
			for {
				select {
				case <-r.Arrived(): // the browser is back
					break wait
				case <-room.Changed(seen): // another session published
					evs, next, _ := room.Since(seen)
					for _, ev := range evs {
						heard = append(heard, ev.Value)
					}
					seen = next
				case <-idle.C: // five quiet minutes
					heard = nil
				case <-r.Context().Done(): // the session is over
					return
				}
			}
			idle.Stop()
			r.Next()
		}
	}
	_ = app
}

// Server-Sent Events: the session streams events until the browser goes
// away, then waits for its next request.
func ExampleRequest_SSE() {
	app := func(r *continuity.Request) {
		for ; ; r.Next() {
			sse, err := r.SSE()
			if err != nil {
				continue
			}
			tick := time.NewTicker(10 * time.Millisecond)
			for i := 1; i <= 3; i++ {
				select {
				case <-tick.C:
				case <-r.RequestContext().Done():
				}
				if sse.Send(continuity.SSEEvent{ID: fmt.Sprint(i), Data: fmt.Sprintf("tick %d", i)}) != nil {
					break
				}
			}
			tick.Stop()
		}
	}
	srv, err := continuity.New(app, nil)
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	resp, err := http.Get(ts.URL + "/events")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Print(strings.ReplaceAll(string(body), "\n\n", "\n--\n"))
	// Output:
	// text/event-stream
	// id: 1
	// data: tick 1
	// --
	// id: 2
	// data: tick 2
	// --
	// id: 3
	// data: tick 3
	// --
}
