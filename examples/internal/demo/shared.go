package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/journal"
	"github.com/continuity-go/continuity/progress"
	"github.com/continuity-go/continuity/redistore"
)

// shared is what -redis and -keys-file open: the signing keys, and the
// Redis stores that make this process one node of a deployment.
type shared struct {
	keys    []continuity.Key
	redis   redis.UniversalClient
	journal journal.Store
	meters  progress.Store
	close   func() error
}

// open loads the keys file and connects to Redis, as the flags ask.
// Without them it opens nothing: keys are random and everything stays in
// memory.
func (c *Config) open() error {
	sh := &shared{close: func() error { return nil }}
	if c.KeysFile != "" {
		keys, err := continuity.LoadKeysFile(c.KeysFile)
		if err != nil {
			return err
		}
		sh.keys = keys
	}
	if c.Redis != "" {
		opt, err := redis.ParseURL(c.Redis)
		if err != nil {
			return fmt.Errorf("-redis: %w", err)
		}
		rdb := redis.NewClient(opt)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = rdb.Ping(ctx).Err()
		cancel()
		if err != nil {
			rdb.Close()
			return fmt.Errorf("-redis %s: %w", c.Redis, err)
		}
		js, err := redistore.NewJournalStore(rdb, redistore.JournalOptions{LeaseTTL: c.LeaseTTL})
		if err != nil {
			rdb.Close()
			return err
		}
		ps, err := redistore.NewProgressStore(rdb, redistore.ProgressOptions{})
		if err != nil {
			rdb.Close()
			return err
		}
		sh.redis, sh.journal, sh.meters = rdb, js, ps
		sh.close = func() error { return errors.Join(ps.Close(), rdb.Close()) }
	}
	c.shared = sh
	return nil
}

// RedisClient returns the client that -redis opened, for an example's
// own shared state (the chat's topic): close what is made on it in the
// server's ServerStop hook, since Run closes the client once the server
// has shut down. It is nil without -redis, and in a Config that Run did
// not make.
func (c Config) RedisClient() redis.UniversalClient {
	if c.shared == nil {
		return nil
	}
	return c.shared.redis
}

// apply puts what open made into o.
func (c Config) apply(o *continuity.Options) {
	sh := c.shared
	if sh == nil {
		return
	}
	if sh.keys != nil {
		o.Keys = sh.keys
	}
	if sh.journal != nil {
		o.Journal = sh.journal
		o.Progress.Store = sh.meters
	}
	o.Node = c.Node
}
