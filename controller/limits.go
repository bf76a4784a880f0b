package controller

import (
	"context"
	"time"
)

// runLimits applies every peer's expiry and data limit (the fleet's
// EnforceLimits over all nodes) at once and then every interval until ctx
// is done, besides the polls, which apply them to each node they poll: a
// peer whose node is offline or polled rarely still expires on time in the
// database, and leaves its agent as soon as the agent answers. It returns
// when ctx is done.
func (c *Controller) runLimits(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.fleet.EnforceLimits(ctx, 0); err != nil && ctx.Err() == nil {
			c.log.Error("applying expiry and data limits", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
