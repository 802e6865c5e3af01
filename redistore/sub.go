package redistore

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Reconnection: how long the subscriber waits after a failed receive
// before it tries again, doubling up to the maximum while Redis is away.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// A subscriber holds one pub/sub connection on one channel and one
// goroutine reading it, started on first use and stopped by close. go-redis
// reconnects and subscribes again after a connection is lost; each
// subscription (the first, and every one after a reconnection) calls
// onSubscribed, since announcements made while it was down are lost. When
// the channel is silent for idle, the subscriber pings Redis (so a dead
// connection is noticed) and calls onIdle, if set.
type subscriber struct {
	c            redis.UniversalClient
	channel      string
	onMessage    func(payload string)
	onSubscribed func()
	onIdle       func()
	idle         time.Duration // default 30s

	mu      sync.Mutex
	closed  bool
	stopped chan struct{} // closed by close
	done    chan struct{} // closed when the goroutine exits; nil before start
	ps      *redis.PubSub
}

// start starts the goroutine if it does not run yet. It returns ErrClosed
// after close.
func (s *subscriber) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.done != nil {
		return nil
	}
	s.stopped = make(chan struct{})
	s.done = make(chan struct{})
	// No channel yet: Subscribe with none does no I/O, so a Redis that is
	// down cannot block the caller; the goroutine subscribes.
	s.ps = s.c.Subscribe(context.Background())
	go s.run(s.ps, s.stopped, s.done)
	return nil
}

// close stops the goroutine and waits for it to exit. It is idempotent.
func (s *subscriber) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if s.done != nil {
			<-s.done
		}
		return
	}
	s.closed = true
	done, ps := s.done, s.ps
	if done != nil {
		close(s.stopped)
	}
	s.mu.Unlock()
	if done == nil {
		return
	}
	_ = ps.Close() // ends a receive in progress
	<-done
}

func (s *subscriber) run(ps *redis.PubSub, stopped, done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	idle := s.idle
	if idle <= 0 {
		idle = 30 * time.Second
	}
	backoff := minBackoff
	_ = ps.Subscribe(ctx, s.channel) // on failure, the next receive reconnects
	for {
		msg, err := ps.ReceiveTimeout(ctx, idle)
		select {
		case <-stopped:
			return
		default:
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = ps.Ping(ctx)
				if s.onIdle != nil {
					s.onIdle()
				}
				continue
			}
			select {
			case <-stopped:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == s.channel {
				s.onSubscribed()
			}
		case *redis.Message:
			s.onMessage(m.Payload)
		}
	}
}
