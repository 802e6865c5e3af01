// Package redistore keeps continuity's shared state in Redis, so that
// several processes (the nodes of one deployment, behind a load balancer)
// serve it together:
//
//   - [ProgressStore] is a [progress.Store]: a meter started on one node is
//     readable through every node, and long polls and event streams on any
//     node are woken by its changes (Redis pub/sub);
//   - [TopicTransport] is a [request.TopicTransport]: a [request.Topic]
//     made with [request.NewTopicWith] on each node over the same Redis is
//     one topic (a Redis stream), with the same versions everywhere, and
//     [request.Topic.Interrupt] reaches the waiters of every node;
//   - [JournalStore] is a [journal.Store]: a session's replay journal is a
//     Redis stream, so that another node can rebuild the session when its
//     node dies, and a [Lease] per session, with a fencing epoch checked
//     inside every append, lets one node at a time write it.
//
// All take a client of github.com/redis/go-redis/v9, which the caller
// makes, shares and closes. The progress store and the topic transport
// each own at most one goroutine and one pub/sub connection, which their
// Close stops; the journal store owns none. All reconnect by themselves
// after Redis restarts, and what Redis holds for them is bounded (by
// lengths, caps and TTLs).
//
// Every key of one progress scope, one topic or one session's journal
// carries the same hash tag, so that each script touches a single hash
// slot, as Redis Cluster requires.
package redistore
