package journal

import (
	"context"
	"errors"
	"time"
)

// ErrFenced is returned by the appends, renewals and releases of a
// [Lease] that is no longer held: it lapsed, was released, or another
// process took the session over since.
var ErrFenced = errors.New("journal: session lease lost (fenced)")

// A Lease is one process's exclusive right to write a session's journal in
// a shared [Leaser]. Its methods are safe for concurrent use.
type Lease interface {
	// Journal is the store fenced by the lease: its Append and Delete
	// fail with an error wrapping ErrFenced once the lease is lost.
	Journal() Store
	// Renew extends the lease by the store's lease TTL, or returns an
	// error wrapping ErrFenced if it was lost.
	Renew(ctx context.Context) error
	// Release gives the lease up, so that another process takes the
	// session over at once.
	Release(ctx context.Context) error
}

// ErrNotDurable is wrapped by the error of an append to a durable journal
// ([DurableLease]) that could not be confirmed persisted: the entry WAS
// appended (the next append takes the next sequence number), but the
// store could not confirm that it is on disk. The error says why.
var ErrNotDurable = errors.New("journal: append not confirmed durable")

// A DurableLease is a Lease whose journal can also wait, append by
// append, until each entry is persisted: for the flows that ask for it
// (request.Request.Durable).
type DurableLease interface {
	Lease
	// DurableJournal is Journal with appends that return once the entry
	// is persisted, or with an error wrapping ErrNotDurable.
	DurableJournal() Store
}

// A BatchRenewer is a Leaser that renews many of its leases at once, in
// fewer round trips than one each: a process renews its sessions' leases
// that way when its Leaser implements it.
type BatchRenewer interface {
	// RenewLeases renews leases, all made by this Leaser, and returns an
	// error for each, in order: nil if renewed, one wrapping ErrFenced if
	// the lease was lost.
	RenewLeases(ctx context.Context, leases []Lease) []error
}

// A Leaser is a Store shared by several processes, whose sessions are
// written by one lease holder at a time. continuity uses one to take a
// session over from a process that died or is draining: it acquires the
// lease, loads the journal and replays it.
type Leaser interface {
	Store
	// AcquireLease takes the session's lease for node, waiting until a
	// lease held elsewhere lapses or ctx is done.
	AcquireLease(ctx context.Context, session, node string) (Lease, error)
	// LeaseTTL is how long a lease lasts unless renewed; holders renew
	// at a third of it.
	LeaseTTL() time.Duration
}
