package agent

import "runtime/debug"

// trimAfterRemovals is the fewest peers an interface removes before the
// agent returns the memory they held to the operating system: about 26 KB
// a peer in wireguard-go, so 1,024 peers are about 26 MB. It also waits
// for a quarter of the peers the interface holds (trimShare): a forced
// collection costs time in proportion to what is live, so at 60k peers
// it waits for 15k removals, and a steady trickle of removals is left to
// the runtime's own collections.
const (
	trimAfterRemovals = 1024
	trimShare         = 4
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
	free      func()
	pending   int // removals not yet trimmed
}

func newMemTrim() *memTrim {
	return &memTrim{threshold: trimAfterRemovals, free: debug.FreeOSMemory}
}

// removed counts n removed peers, of an interface that now holds held,
// and trims once there are enough.
func (m *memTrim) removed(n, held int) {
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
