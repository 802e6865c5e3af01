package redistore_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/continuity-go/continuity/journal"
	"github.com/continuity-go/continuity/redistore"
)

// A node that gets a request for a session it does not run takes the
// session over: it waits out the lease of the node that died (or takes at
// once one a draining node released), loads the journal, replays it, and
// appends each new step's input before it answers the step. If another
// node takes the session over in turn, the next append fails with
// ErrFenced and this node ends its copy.
func ExampleJournalStore_Acquire() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	store, err := redistore.NewJournalStore(rdb, redistore.JournalOptions{LeaseTTL: 15 * time.Second})
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lease, err := store.Acquire(ctx, "session-key", "node-b")
	if err != nil {
		log.Fatal(err) // ErrHeld: the old owner is still alive
	}
	defer lease.Release(context.Background())
	j := lease.Journal()
	entries, err := j.Load(ctx, "session-key")
	if err != nil {
		log.Fatal(err)
	}
	// ... replay journal.Timeline(entries), then for the next step:
	next := uint64(len(entries)) + 1
	err = j.Append(ctx, "session-key", next, journal.Entry{Kind: journal.Input, Step: 5, Method: "POST", Path: "/"})
	switch {
	case errors.Is(err, redistore.ErrFenced):
		// Another node runs the session now: end this copy.
	case errors.Is(err, journal.ErrConflict):
		// The journal is not where this copy thinks: Redis lost its tail
		// (a crash within appendfsync's second) or it expired. Reload.
	case err != nil:
		// Redis is unreachable: answer 503; the input is not journaled.
	}
}
