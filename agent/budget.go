package agent

import (
	"context"
	"sync"
)

// byteBudget is a shared allowance of bytes: acquire takes n, release
// gives them back. It bounds what requests not yet authenticated may
// buffer, all together. It is not FIFO: a small request may pass a large
// one that does not fit yet, which keeps the controller's small signed
// requests moving while large unsigned ones wait.
type byteBudget struct {
	mu      sync.Mutex
	free    int64
	changed chan struct{} // closed and replaced at every release
}

func newByteBudget(n int64) *byteBudget {
	return &byteBudget{free: n, changed: make(chan struct{})}
}

// acquire takes n bytes, waiting until they are free or ctx is done; it
// reports whether it took them. n must not exceed the whole budget.
func (b *byteBudget) acquire(ctx context.Context, n int64) bool {
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return true
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// release gives back n bytes taken by acquire.
func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}
