package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/wgfleet/wgfleet/controller/leader"
)

// changesEvery is how often the leader of several replicas looks for
// nodes whose desired state another replica changed.
const changesEvery = time.Second

// electorInterval is how often a follower tries to become the leader and
// the leader checks its lease: an eighth of the poll interval, between
// 250ms and leader.DefaultInterval. A new leader starts after taking the
// lease and waiting 2× this (leader.Config.Grace), so a replica takes
// over well within two poll intervals of the leader's end.
func electorInterval(poll time.Duration) time.Duration {
	return min(max(poll/8, 250*time.Millisecond), leader.DefaultInterval)
}

// defaultReplicaName is the host name and the port of listen (the
// address a replica listens on).
func defaultReplicaName(listen string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if _, port, err := net.SplitHostPort(listen); err == nil {
		return net.JoinHostPort(host, port)
	}
	return host
}

// lead is the work of the leader (the one replica on SQLite): the
// reconciler, the poller, the check of peers' expiry and data limits
// (every Config.LimitInterval), the traffic history's rollup, the webhook
// deliveries and, with several
// replicas, the watch for changes made by the others. It runs until ctx
// is done and returns once all of them have stopped.
func (c *Controller) lead(ctx context.Context) error {
	var (
		wg                 sync.WaitGroup
		recErr, pErr, hErr error
	)
	wg.Go(func() { recErr = c.reconciler.Run(ctx) })
	wg.Go(func() { pErr = c.poller.Run(ctx) })
	limitEvery := c.cfg.LimitInterval
	if limitEvery <= 0 {
		limitEvery = DefaultLimitInterval
	}
	wg.Go(func() { c.runLimits(ctx, limitEvery) })
	wg.Go(func() { c.traffic.Run(ctx) })
	wg.Go(func() { hErr = c.webhooks.Run(ctx) })
	// Converge every node once at start: peers created while no replica
	// led, or a batch the last leader was killed in, are applied now.
	gens, err := c.store.NodeGenerations(ctx)
	if err != nil && ctx.Err() == nil {
		c.log.Warn("listing nodes for the start-up reconcile; the poller will catch up", "err", err)
	}
	for id := range gens {
		c.reconciler.Trigger(id)
	}
	if c.store.Shared() {
		wg.Go(func() { c.watchChanges(ctx, gens, changesEvery) })
	}
	wg.Wait()
	if recErr != nil {
		recErr = fmt.Errorf("reconciler: %w", recErr)
	}
	if pErr != nil {
		pErr = fmt.Errorf("poller: %w", pErr)
	}
	if hErr != nil {
		hErr = fmt.Errorf("webhooks: %w", hErr)
	}
	return errors.Join(recErr, pErr, hErr)
}

// watchChanges triggers a reconcile of every node whose desired
// generation moved since the last look (seen, updated here), every
// interval until ctx is done: a change another replica accepted reaches
// the agent through the leader, even when that replica is gone.
func (c *Controller) watchChanges(ctx context.Context, seen map[int64]int64, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		gens, err := c.store.NodeGenerations(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("looking for changed nodes", "err", err)
			}
			continue
		}
		for id, gen := range gens {
			if old, ok := seen[id]; !ok || old != gen {
				c.reconciler.Trigger(id)
			}
		}
		for id := range seen {
			if _, ok := gens[id]; !ok {
				c.reconciler.Trigger(id) // deleted: the reconciler forgets it
			}
		}
		seen = gens
	}
}
