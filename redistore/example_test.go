package redistore_test

import (
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/progress"
	"github.com/continuity-go/continuity/redistore"
	"github.com/continuity-go/continuity/request"
)

// Every node of a deployment runs this, with the same Redis and the same
// keys file: meters and the chat topic are shared, and each node accepts
// the others' cookies.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	meters, err := redistore.NewProgressStore(rdb, redistore.ProgressOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer meters.Close()

	type message struct{ From, Text string }
	room, err := redistore.NewTopic(rdb, "chat", 0, request.JSONCodec[message](), redistore.TopicOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer room.Close()

	keys, err := continuity.LoadKeysFile("/etc/myapp/keys")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := continuity.New(func(r *continuity.Request) {
		evs, v := room.Recent(20)
		for _, e := range evs {
			r.Printf("%s: %s\n", e.Value.From, e.Value.Text)
		}
		_ = v // wait for more with room.Wait(r.RequestContext(), v, timeout)
	}, &continuity.Options{
		Keys:     keys,
		Progress: progress.Options{Store: meters},
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.ListenAndServe(":8080"))
}
