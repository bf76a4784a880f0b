package reconcile

import (
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// pushAndWait creates one peer on the node, pushes it (Run must be
// running) and waits until its record has committed: the peer applied and
// the generation its creation made acknowledged.
func (f *fixture) pushAndWait(nodeID int64) store.Peer {
	f.t.Helper()
	p := f.addPeers(nodeID, 1)[0]
	gen := f.node(nodeID).DesiredGeneration
	f.r.Push(nodeID, p.ID, gen)
	f.waitApplied(p)
	waitFor(f.t, func() bool { return f.node(nodeID).AckedGeneration >= gen })
	return p
}

// TestPushKeepsTheDigest: after pushes that the dump read after each one
// confirmed, on a node that was in line, a poll's unchanged dump is
// compared by digest (no read of the node's peers, no agent call), in or
// out of the pushes' order; and what the agent then loses or gains behind
// the controller's back, a pushed peer included, is still caught on the
// next poll and repaired.
func TestPushKeepsTheDigest(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 3)
	c := a.Client(t)
	f.confirmed(n.ID, c, a.Iface)
	f.start()

	pushed := []store.Peer{f.pushAndWait(n.ID), f.pushAndWait(n.ID)}
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged || res.Calls != 0 || !res.Acked || len(res.Drift) != 0 {
		t.Fatalf("poll after two confirmed pushes: %+v; want it compared by digest", res)
	}

	// Two creations pushed in the other order: the later generation's
	// peer first.
	first := f.addPeers(n.ID, 1)[0]
	gen1 := f.node(n.ID).DesiredGeneration
	second := f.addPeers(n.ID, 1)[0]
	gen2 := f.node(n.ID).DesiredGeneration
	f.r.Push(n.ID, second.ID, gen2)
	f.waitApplied(second)
	f.r.Push(n.ID, first.ID, gen1)
	f.waitApplied(first)
	waitFor(t, func() bool { return f.node(n.ID).AckedGeneration == gen2 })
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged || !res.Acked {
		t.Fatalf("poll after pushes out of order: %+v; want it compared by digest", res)
	}
	pushed = append(pushed, first, second)

	// A pushed peer removed behind the controller's back.
	if err := c.DeletePeer(t.Context(), a.Iface, pushed[2].PublicKey); err != nil {
		t.Fatal(err)
	}
	res := f.offerDump(n.ID, c, a.Iface)
	if res.Unchanged || len(res.Drift) != 1 || res.Drift[0].Kind != DriftMissing || res.Drift[0].Pending || !res.Repaired {
		t.Fatalf("after a pushed peer was removed on the agent: %+v; want it found, out of band, and repaired", res)
	}
	f.checkDrift(n.ID, 0, 1)
	f.assertConverged(a, n.ID)
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged {
		t.Fatalf("after the repair: %+v; want the digest again", res)
	}

	// A stranger added after the last poll, then a push: the push's dump
	// shows it, so the push must not vouch for that dump.
	agentAdd(t, a, newKey(t).PublicKey(), "10.100.9.9/32")
	f.pushAndWait(n.ID)
	res = f.offerDump(n.ID, c, a.Iface)
	if res.Unchanged || len(res.Drift) != 1 || res.Drift[0].Kind != DriftUnknown || !res.Repaired {
		t.Fatalf("a stranger before a push: %+v; want it found and removed", res)
	}
	f.checkDrift(n.ID, 0, 2)
	f.assertConverged(a, n.ID)
}

// TestPushWithoutConfirmation: a push on a node that no reconcile found in
// line (none yet: a controller that just started) leaves the next poll to
// a full comparison, which then finds it in line; the digest serves only
// after that.
func TestPushWithoutConfirmation(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 2)
	f.reconcile(n.ID)
	c := a.Client(t)
	f.r = New(Config{Store: f.store, Clients: f.pool, BulkThreshold: DefaultBulkThreshold, Workers: 2, Logger: f.r.log})
	f.start()
	f.pushAndWait(n.ID)
	if res := f.offerDump(n.ID, c, a.Iface); res.Unchanged || !res.Acked || len(res.Drift) != 0 {
		t.Fatalf("first poll after a push with nothing confirmed: %+v; want a full comparison, in line", res)
	}
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged {
		t.Fatalf("second poll: %+v; want the digest", res)
	}
}
