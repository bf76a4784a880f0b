package auth

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// Defaults of the bound on concurrent password checks (Config.MaxHashes,
// Config.HashWait).
const (
	// DefaultHashWait is how long a login waits for a free hashing slot
	// before it is refused with a *RateLimitError (HTTP 429) that says to
	// retry after that long.
	DefaultHashWait = time.Second
	// maxDefaultHashes caps the default number of slots: each check holds
	// argonMemoryKiB (19 MiB) while it runs.
	maxDefaultHashes = 4
	// waitersPerSlot bounds how many logins may wait, per slot; more are
	// refused at once.
	waitersPerSlot = 16
)

// DefaultMaxHashes is the default number of password checks that run at
// once: half the CPUs Go may use, at least one and at most four, so that
// logins, however many arrive, leave CPU for everything else and hold at
// most 4 × 19 MiB.
func DefaultMaxHashes() int {
	return min(maxDefaultHashes, max(1, runtime.GOMAXPROCS(0)/2))
}

// hashSlots bounds how many password checks (argon2id, 19 MiB and tens of
// milliseconds each) run at once, and how many logins wait for one. It is
// the only way Login reaches argon2, for known and unknown users alike.
type hashSlots struct {
	running chan struct{} // one element per running check
	waiting chan struct{} // one element per login waiting for a slot
	wait    time.Duration
}

func newHashSlots(n int, wait time.Duration) *hashSlots {
	return &hashSlots{
		running: make(chan struct{}, n),
		waiting: make(chan struct{}, n*waitersPerSlot),
		wait:    wait,
	}
}

// acquire takes a slot, waiting at most the configured time for one. It
// returns a function that gives the slot back, or a *RateLimitError when
// no slot freed up in time or too many logins wait already, or ctx's
// error when the client left first.
func (h *hashSlots) acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-h.running }
	select {
	case h.running <- struct{}{}:
		return release, nil
	default:
	}
	busy := &RateLimitError{RetryAfter: h.wait, Reason: "too many logins in progress"}
	select {
	case h.waiting <- struct{}{}:
		defer func() { <-h.waiting }()
	default:
		return nil, busy
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.running <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, busy
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting to check a password: %w", ctx.Err())
	}
}
