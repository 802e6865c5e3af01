package progress

import (
	"context"
	"sync"
	"time"
)

// finishTimeout bounds the store call that finishes one dropped meter.
const finishTimeout = 10 * time.Second

// A janitor finishes the meters dropped without Done. The runtime asks for
// that on its cleanup goroutine, which every cleanup in the process shares,
// so the cleanup only hands the meter over here (a short append under a
// lock) and a goroutine of the janitor's makes the store call, which may
// block on a network. That goroutine starts when there is work and exits
// when there is none, so an idle janitor holds no goroutine; its owner, the
// Handler, ends the store calls and waits for it in Shutdown.
type janitor struct {
	ctx    context.Context // done once the Handler shuts down
	cancel context.CancelFunc

	mu      sync.Mutex
	pending []*meter
	idle    chan struct{} // closed when the running goroutine exits; nil when none runs
}

func newJanitor() *janitor {
	ctx, cancel := context.WithCancel(context.Background())
	return &janitor{ctx: ctx, cancel: cancel}
}

// finishLater queues m to be finished and starts the goroutine if none
// runs. It never blocks on the store: it is the runtime cleanup of a
// dropped Meter.
func (j *janitor) finishLater(m *meter) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending = append(j.pending, m)
	if j.idle == nil {
		j.idle = make(chan struct{})
		go j.run(j.idle)
	}
}

// run finishes the queued meters, one at a time, until none is left.
func (j *janitor) run(idle chan struct{}) {
	defer close(idle)
	for {
		j.mu.Lock()
		if len(j.pending) == 0 {
			j.pending = nil
			j.idle = nil
			j.mu.Unlock()
			return
		}
		m := j.pending[0]
		j.pending[0] = nil
		j.pending = j.pending[1:]
		j.mu.Unlock()
		ctx, cancel := context.WithTimeout(j.ctx, finishTimeout)
		m.finish(ctx)
		cancel()
	}
}

// shutdown lets the queued finishes run until ctx is done, then ends the
// store calls. It returns nil once the goroutine has exited, or ctx's
// error if ctx is done while it runs (it then returns without waiting).
// Meters dropped later are still finished, but with a context that is
// already done, so a store gives up on them at once.
func (j *janitor) shutdown(ctx context.Context) error {
	defer j.cancel()
	j.mu.Lock()
	idle := j.idle
	j.mu.Unlock()
	if idle == nil {
		return nil
	}
	if ctx.Err() == nil {
		select {
		case <-idle:
			return nil
		case <-ctx.Done():
		}
	}
	return ctx.Err()
}
