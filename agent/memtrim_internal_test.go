package agent

import "testing"

func TestMemTrimRunsOnceEnoughAreRemoved(t *testing.T) {
	runs := 0
	m := &memTrim{threshold: 10, free: func() { runs++ }}
	m.removed(4)
	m.removed(5)
	if runs != 0 {
		t.Fatalf("trimmed after 9 of 10 removals: %d runs", runs)
	}
	m.removed(1)
	if runs != 1 || m.pending != 0 {
		t.Fatalf("after 10 removals: %d runs, %d pending; want 1 run, 0 pending", runs, m.pending)
	}
	m.removed(25)
	m.removed(0)
	if runs != 2 || m.pending != 0 {
		t.Fatalf("after 25 more: %d runs, %d pending; want 2 runs, 0 pending", runs, m.pending)
	}
}

func TestRemovalsCountsOnlyRemovedPeers(t *testing.T) {
	cs := []peerChange{{had: true, has: false}, {had: false, has: true}, {had: true, has: true}, {had: true, has: false}}
	if got := removals(cs); got != 2 {
		t.Fatalf("removals = %d, want 2", got)
	}
}
