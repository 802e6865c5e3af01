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
//     [request.Topic.Interrupt] reaches the waiters of every node.
//
// Both take a client of github.com/redis/go-redis/v9, which the caller
// makes, shares and closes; each owns at most one goroutine and one
// pub/sub connection, which its Close stops. Both reconnect by themselves
// after Redis restarts, and what Redis holds for them is bounded (by
// lengths and TTLs).
//
// Every key of one progress scope or one topic carries the same hash tag,
// so that each script touches a single hash slot, as Redis Cluster
// requires.
package redistore
