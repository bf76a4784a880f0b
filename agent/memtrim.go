package agent

import "runtime/debug"

// trimAfterRemovals is the fewest peers an interface removes before the
// agent returns the memory they held to the operating system: about 26 KB
// a peer in wireguard-go, so 1,024 peers are about 26 MB. It also waits
// for a quarter of the peers the interface holds (trimShare): a forced
// collection costs time in proportion to what is live, so at 60k peers
// it waits for 15k removals, and a steady trickle of removals is left to
// the runtime's own collections.
//
// Only batches that remove at least trimMinBatch peers count: single
// changes, group-committed a few at a time (a controller's trickle, a
// churn of 100 changes a second), never force a collection. At 10k peers
// they did every 2,500 removals, each a full collection of the whole
// heap and its pages given back and faulted in again, on a node whose
// CPU carries traffic; the garbage they leave is the runtime's to
// collect, as any other.
const (
	trimAfterRemovals = 1024
	trimShare         = 4
	trimMinBatch      = 64
)

// memTrim returns the memory of removed peers to the operating system.
//
// A wireguard-go peer holds about 26 KB; when many are removed at once (a
// replace-all of a set by another) the Go runtime keeps the freed heap
// until a later collection and gives pages back only slowly, so a process
// that swaps 10k peers for another 10k ten times grew to 3-4 times its
// size after the first set, a bare wireguard-go device as much as the
// agent (BenchmarkAgentMemory, BENCHMARKS.md). Once an interface has
// removed trimAfterRemovals peers and a quarter of what it holds, the
// committer runs one collection that
// also returns the freed pages (debug.FreeOSMemory) before it answers the
// batch: a batch that removes a thousand peers costs a collection more,
// and its answer means the memory is back. It is not safe for concurrent
// use: only the committer calls it.
type memTrim struct {
	threshold int
	minBatch  int // a batch that removes fewer is not counted
	free      func()
	pending   int // removals not yet trimmed
}

func newMemTrim() *memTrim {
	return &memTrim{threshold: trimAfterRemovals, minBatch: trimMinBatch, free: debug.FreeOSMemory}
}

// removed counts the n peers one batch removed, of an interface that now
// holds held, and trims once there are enough.
func (m *memTrim) removed(n, held int) {
	if n < m.minBatch {
		return
	}
	m.pending += n
	if m.pending < m.threshold || m.pending < held/trimShare {
		return
	}
	m.pending = 0
	m.free()
}

// removals counts the peers a batch's changes remove.
func removals(cs []peerChange) int {
	n := 0
	for _, c := range cs {
		if c.had && !c.has {
			n++
		}
	}
	return n
}
