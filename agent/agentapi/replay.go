package agentapi

import (
	"container/heap"
	"sync"
	"time"
)

// replayResult is what replayCache.add found.
type replayResult int

const (
	replayAdded     replayResult = iota // the key was new and is now remembered
	replayDuplicate                     // the key is remembered and has not expired
	replayFull                          // the cache holds max live keys; nothing was remembered
)

// replayCache is a bounded set of keys, each remembered until its expiry.
// It is safe for concurrent use; add is an atomic check-and-insert.
//
// When the cache is full of keys that have not expired, add refuses the new
// key (replayFull) rather than evicting the oldest: an evicted signature or
// nonce could be replayed successfully while its timestamp is still inside
// the window, which is exactly what the cache is for. Refusing costs
// availability only, and only to holders of a valid secret, since keys are
// added after the signature has been verified. Expired keys are dropped
// lazily on every add, so the cache needs no goroutine.
type replayCache struct {
	max int

	mu   sync.Mutex
	seen map[string]time.Time // key -> expiry; the same keys as order
	exp  expiryHeap           // soonest expiry first
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]time.Time)}
}

// add remembers key until exp unless it is already remembered or the cache
// is full. Keys whose expiry is not after now count as forgotten.
func (c *replayCache) add(key string, exp, now time.Time) replayResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.exp) > 0 && !c.exp[0].exp.After(now) {
		e := heap.Pop(&c.exp).(replayEntry)
		delete(c.seen, e.key)
	}
	if _, ok := c.seen[key]; ok {
		return replayDuplicate
	}
	if len(c.seen) >= c.max {
		return replayFull
	}
	c.seen[key] = exp
	heap.Push(&c.exp, replayEntry{key: key, exp: exp})
	return replayAdded
}

// has reports whether key is remembered and not expired at now.
func (c *replayCache) has(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.seen[key]
	return ok && exp.After(now)
}

// load remembers entries without checks, for those read back from a
// replay log at start: all of them, even beyond max, since each was
// accepted once.
func (c *replayCache) load(entries []replayEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range entries {
		if _, ok := c.seen[e.key]; ok {
			continue
		}
		c.seen[e.key] = e.exp
		heap.Push(&c.exp, e)
	}
}

// snapshot returns the remembered keys that have not expired at now.
func (c *replayCache) snapshot(now time.Time) []replayEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]replayEntry, 0, len(c.seen))
	for k, exp := range c.seen {
		if exp.After(now) {
			out = append(out, replayEntry{key: k, exp: exp})
		}
	}
	return out
}

// len returns the number of remembered keys, expired ones not yet dropped
// included.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type replayEntry struct {
	key string
	exp time.Time
}

// expiryHeap is a container/heap min-heap of entries by expiry.
type expiryHeap []replayEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = replayEntry{}
	*h = old[:len(old)-1]
	return e
}
