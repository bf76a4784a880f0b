package poller

import (
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestQuietPollReadsLittle: a poll of a node whose agent shows what the
// last poll saw reads neither the node's peers (the reconcile compares the
// dump by digest: Summary.Unchanged) nor their counters
// (Summary.StatsUnchanged); a change on the agent behind the controller's
// back, traffic, and a change in the database are each still seen by the
// next poll.
func TestQuietPollReadsLittle(t *testing.T) {
	f := newFixture(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("quiet", a.URL, a.Secret, a.Iface)
	peer, key := f.addPeer(n.ID)
	other, _ := f.addPeer(n.ID)
	p := f.poller(Config{Reconciler: f.reconciler()})

	// The first poll puts the peers on the agent; the second sees them
	// as that reconcile left them, with counters it has not recorded yet.
	if sum := p.PollOnce(f.ctx); sum.Reconciled != 1 || sum.Unchanged != 0 || sum.StatsUnchanged != 0 {
		t.Fatalf("first poll: %+v", sum)
	}
	if sum := p.PollOnce(f.ctx); sum.Reconciled != 1 || sum.Unchanged != 1 || sum.StatsUnchanged != 0 {
		t.Fatalf("second poll: %+v; want the dump compared by digest", sum)
	}
	if sum := p.PollOnce(f.ctx); sum.Reconciled != 1 || sum.Unchanged != 1 || sum.StatsUnchanged != 1 {
		t.Fatalf("third poll: %+v; want neither peers nor counters read", sum)
	}

	// Traffic changes the counters, not the configuration.
	sendThrough(t, a, key, peer.Address4, 64<<10)
	if sum := p.PollOnce(f.ctx); sum.Unchanged != 1 || sum.StatsUnchanged != 0 {
		t.Fatalf("poll after traffic: %+v; want the counters compared, the configuration by digest", sum)
	}
	if got, _ := f.store.GetPeer(f.ctx, peer.ID); got.RxBytes < 64<<10 || got.RxTotal != got.RxBytes {
		t.Fatalf("traffic not recorded: rx %d, total %d", got.RxBytes, got.RxTotal)
	}

	// A peer removed behind the controller's back: drift, repaired.
	if err := a.Client(t).DeletePeer(f.ctx, a.Iface, other.PublicKey); err != nil {
		t.Fatal(err)
	}
	if sum := p.PollOnce(f.ctx); sum.Reconciled != 1 || sum.Unchanged != 0 {
		t.Fatalf("poll after an out-of-band removal: %+v", sum)
	}
	if nd := f.node(n.ID); nd.DriftCount != 1 || nd.DriftCurrent != 0 {
		t.Fatalf("drift count %d, current %d; want the removal counted and repaired", nd.DriftCount, nd.DriftCurrent)
	}
	if ps, _ := a.Tunnel(a.Iface).Peers(); len(ps) != 2 {
		t.Fatalf("agent has %d peers after the repair, want 2", len(ps))
	}

	// A peer created in the database: applied by the next poll.
	added, _ := f.addPeer(n.ID)
	if sum := p.PollOnce(f.ctx); sum.Reconciled != 1 || sum.Unchanged != 0 || sum.StatsUnchanged != 0 {
		t.Fatalf("poll after a creation: %+v", sum)
	}
	if got, _ := f.store.GetPeer(f.ctx, added.ID); got.SyncState != store.SyncApplied {
		t.Fatalf("created peer %s after the poll", got.SyncState)
	}
	if ps, _ := a.Tunnel(a.Iface).Peers(); len(ps) != 3 {
		t.Fatalf("agent has %d peers, want 3", len(ps))
	}
}
