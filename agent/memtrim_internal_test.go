package agent

import "testing"

func TestMemTrimRunsOnceEnoughAreRemoved(t *testing.T) {
	runs := 0
	m := &memTrim{threshold: 10, free: func() { runs++ }}
	m.removed(4, 0)
	m.removed(5, 0)
	if runs != 0 {
		t.Fatalf("trimmed after 9 of 10 removals: %d runs", runs)
	}
	m.removed(1, 0)
	if runs != 1 || m.pending != 0 {
		t.Fatalf("after 10 removals: %d runs, %d pending; want 1 run, 0 pending", runs, m.pending)
	}
	m.removed(25, 0)
	m.removed(0, 0)
	if runs != 2 || m.pending != 0 {
		t.Fatalf("after 25 more: %d runs, %d pending; want 2 runs, 0 pending", runs, m.pending)
	}
}

func TestMemTrimWaitsForAQuarterOfTheSet(t *testing.T) {
	runs := 0
	m := &memTrim{threshold: 10, free: func() { runs++ }}
	m.removed(20, 100) // 20 of what is left, 100: fewer than a quarter
	if runs != 0 {
		t.Fatalf("trimmed after 20 removals with 100 held: %d runs", runs)
	}
	m.removed(5, 95) // 25 >= 95/4
	if runs != 1 {
		t.Fatalf("after 25 removals with 95 held: %d runs, want 1", runs)
	}
}

// TestMemTrimLeavesATrickleToTheRuntime: batches that remove fewer than
// minBatch peers never force a collection, however many they add up to;
// a batch of minBatch counts.
func TestMemTrimLeavesATrickleToTheRuntime(t *testing.T) {
	runs := 0
	m := &memTrim{threshold: 10, minBatch: 4, free: func() { runs++ }}
	for range 100 {
		m.removed(3, 0)
	}
	if runs != 0 || m.pending != 0 {
		t.Fatalf("after 100 batches of 3 removals: %d runs, %d pending; want none", runs, m.pending)
	}
	m.removed(4, 0)
	m.removed(6, 0)
	if runs != 1 {
		t.Fatalf("after batches of 4 and 6 removals: %d runs, want 1", runs)
	}
	if newMemTrim().minBatch != trimMinBatch {
		t.Fatal("the agent's trim does not skip small batches")
	}
}

func TestRemovalsCountsOnlyRemovedPeers(t *testing.T) {
	cs := []peerChange{{had: true, has: false}, {had: false, has: true}, {had: true, has: true}, {had: true, has: false}}
	if got := removals(cs); got != 2 {
		t.Fatalf("removals = %d, want 2", got)
	}
}
