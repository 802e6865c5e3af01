package redistore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// WAITAOF support, as probed: unknown until the first durable append.
const (
	aofUnknown int32 = iota
	aofYes
	aofNo
)

// durableClient returns an error unless the store's client pins a
// connection (WAITAOF and WAIT concern the writing connection).
func (s *JournalStore) durableClient() error {
	if _, ok := s.c.(*redis.Client); !ok {
		return fmt.Errorf("redistore: durable appends need a single Redis (a *redis.Client, which may be a failover client), not a %T", s.c)
	}
	return nil
}

// hasWAITAOF probes once whether the server knows WAITAOF (Redis 7.2+):
// COMMAND INFO answers nil for an unknown command.
func (s *JournalStore) hasWAITAOF(ctx context.Context) (bool, error) {
	switch s.aof.Load() {
	case aofYes:
		return true, nil
	case aofNo:
		return false, nil
	}
	res, err := s.c.Do(ctx, "COMMAND", "INFO", "WAITAOF").Slice()
	if err != nil {
		return false, fmt.Errorf("redistore: probing WAITAOF: %w", err)
	}
	yes := len(res) == 1 && res[0] != nil
	if yes {
		s.aof.Store(aofYes)
	} else {
		s.aof.Store(aofNo)
	}
	return yes, nil
}

// serverVersion is the Redis version, for messages; "" if unknown.
func serverVersion(ctx context.Context, c redis.Cmdable) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}

// appendDurable runs the append script and then WAITAOF (or, before
// Redis 7.2, CONFIG GET and WAIT) on one connection.
func (s *JournalStore) appendDurable(ctx context.Context, session string, k jkeys, args []any, d Durability) error {
	if err := s.durableClient(); err != nil {
		return err
	}
	aof, err := s.hasWAITAOF(ctx)
	if err != nil {
		return err
	}
	conn := s.c.(*redis.Client).Conn()
	defer conn.Close()
	if err := appendScript.Run(ctx, conn, k.list(), args...).Err(); err != nil {
		return scriptError(err, session)
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultDurableTimeout
	}
	local := 0
	if d.Local {
		local = 1
	}
	if aof {
		n, err := conn.WaitAOF(ctx, local, d.Replicas, timeout).Result()
		if err != nil {
			if redis.HasErrorPrefix(err, "unknown command") {
				s.aof.Store(aofNo) // a failover to an older server
			}
			return fmt.Errorf("%w: WAITAOF: %w", ErrNotDurable, err)
		}
		if len(n) != 2 || n[0] < int64(local) || n[1] < int64(d.Replicas) {
			return fmt.Errorf("%w: within %v, WAITAOF confirmed %v (local, replicas) of %d, %d", ErrNotDurable, timeout, n, local, d.Replicas)
		}
		return nil
	}
	var errs []error
	if d.Local {
		if err := fsyncsAlways(ctx, conn); err != nil {
			v := serverVersion(ctx, conn)
			errs = append(errs, fmt.Errorf("%w: Redis %s has no WAITAOF (7.2+), and %w", ErrNotDurable, v, err))
		}
	}
	if d.Replicas > 0 {
		n, err := conn.Wait(ctx, d.Replicas, timeout).Result()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%w: WAIT: %w", ErrNotDurable, err))
		case n < int64(d.Replicas):
			errs = append(errs, fmt.Errorf("%w: within %v, %d of %d replicas received it (WAIT)", ErrNotDurable, timeout, n, d.Replicas))
		}
	}
	return errors.Join(errs...)
}

// fsyncsAlways returns nil if the server writes every change to its
// append-only file on disk before it answers, else why not.
func fsyncsAlways(ctx context.Context, c redis.Cmdable) error {
	cfg, err := c.ConfigGet(ctx, "append*").Result()
	if err != nil {
		return fmt.Errorf("its persistence settings are unreadable (CONFIG GET: %w)", err)
	}
	if cfg["appendonly"] != "yes" {
		return errors.New("appendonly is off")
	}
	if f := cfg["appendfsync"]; f != "always" {
		return fmt.Errorf("appendfsync is %s, not always", f)
	}
	return nil
}

// CheckDurable returns nil if this Redis can confirm appends as d asks,
// else an error wrapping [ErrNotDurable] that says why (no WAITAOF and
// appendfsync not always, appendonly off, fewer replicas connected than
// asked, a cluster client). Call it at start-up for the flows that want
// durable steps, to refuse or warn before the first step.
func (s *JournalStore) CheckDurable(ctx context.Context, d Durability) error {
	if !d.enabled() {
		return nil
	}
	if err := s.durableClient(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotDurable, err)
	}
	aof, err := s.hasWAITAOF(ctx)
	if err != nil {
		return err
	}
	var errs []error
	if d.Local {
		if aof {
			cfg, err := s.c.ConfigGet(ctx, "appendonly").Result()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%w: CONFIG GET appendonly: %w", ErrNotDurable, err))
			case cfg["appendonly"] != "yes":
				errs = append(errs, fmt.Errorf("%w: appendonly is off, so WAITAOF cannot confirm a local write", ErrNotDurable))
			}
		} else if err := fsyncsAlways(ctx, s.c); err != nil {
			errs = append(errs, fmt.Errorf("%w: Redis %s has no WAITAOF (7.2+), and %w", ErrNotDurable, serverVersion(ctx, s.c), err))
		}
	}
	if d.Replicas > 0 {
		info, err := s.c.Info(ctx, "replication").Result()
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: INFO replication: %w", ErrNotDurable, err))
		} else if n := onlineReplicas(info); n < d.Replicas {
			errs = append(errs, fmt.Errorf("%w: %d replicas online, %d asked", ErrNotDurable, n, d.Replicas))
		}
	}
	return errors.Join(errs...)
}

// onlineReplicas counts the replicas that INFO replication lists as
// online: connected_slaves also counts those still in their first sync,
// which acknowledge nothing until it ends.
func onlineReplicas(info string) int {
	n := 0
	for line := range strings.Lines(info) {
		if strings.HasPrefix(line, "slave") && strings.Contains(line, ":") && strings.Contains(line, ",state=online,") {
			n++
		}
	}
	return n
}
