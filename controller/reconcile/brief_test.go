package reconcile

import (
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestOfferBriefDropsWhatNobodyReads: a poll's dump offered with
// OfferBrief, of an agent changed behind the controller's back, is still
// compared and the drift repaired and counted once, while the result
// waited for carries no drift lists and the job no longer holds the dump
// once its reconcile ended (a poll cycle holds every node's job until it
// has waited for all). An Offer joining the same job gets the lists, for
// both.
func TestOfferBriefDropsWhatNobodyReads(t *testing.T) {
	t.Run("brief", func(t *testing.T) {
		f, a, n, peers := reconciledNode(t, 0)
		if err := a.Client(t).DeletePeer(f.ctx, a.Iface, peers[1].PublicKey); err != nil {
			t.Fatal(err)
		}
		dump, at := pollDump(t, a.Client(t), a.Iface)
		f.start()
		pr := f.r.OfferBrief(n.ID, Observation{Peers: dump, ReadAt: at})
		res, err := pr.Wait(f.ctx)
		// Two calls: the add and the dump that confirms it. The offered
		// dump was compared, not read again.
		if err != nil || !res.Repaired || res.Added != 1 || res.Calls != 2 || res.DriftCurrent != 0 || !res.Acked {
			t.Fatalf("reconcile of the offered dump: %+v, %v; want the missing peer added from it", res, err)
		}
		if res.Drift != nil || res.DriftAfter != nil {
			t.Errorf("brief result holds drift lists: %+v, %+v", res.Drift, res.DriftAfter)
		}
		if pr.j.obs != nil {
			t.Error("the job still holds the offered dump after its reconcile")
		}
		f.checkDrift(n.ID, 0, 1)
		f.assertConverged(a, n.ID)
	})

	t.Run("joined by Offer", func(t *testing.T) {
		f, a, n, peers := reconciledNode(t, 0)
		if err := a.Client(t).DeletePeer(f.ctx, a.Iface, peers[0].PublicKey); err != nil {
			t.Fatal(err)
		}
		dump, at := pollDump(t, a.Client(t), a.Iface)
		// Before Run: both wait in the queue, as one job.
		brief := f.r.OfferBrief(n.ID, Observation{Peers: dump, ReadAt: at})
		full := f.r.Offer(n.ID, Observation{Peers: dump, ReadAt: at})
		if brief.j != full.j {
			t.Fatal("test broken: the offers did not join one job")
		}
		f.start()
		for name, pr := range map[string]*Pending{"OfferBrief": brief, "Offer": full} {
			res, err := pr.Wait(f.ctx)
			if err != nil || !res.Repaired || len(res.Drift) != 1 || res.Drift[0].Kind != DriftMissing || res.DriftAfter == nil {
				t.Errorf("%s's result: %+v, %v; want the missing peer in its drift", name, res, err)
			}
		}
		if full.j.obs != nil {
			t.Error("the job still holds the offered dump after its reconcile")
		}
		f.checkDrift(n.ID, 0, 1)
		f.assertConverged(a, n.ID)
	})
}

// TestOfferKeepsOnlyDigestOfConfirmedDump: an offered dump that is the
// one the node's last reconcile found in line waits for its worker as its
// digest alone, and is compared by digest; when the node moved between the
// offer and the reconcile (a peer created in the database, one deleted on
// the agent by hand), the reconcile reads the agent again and acts on what
// it shows: the deleted peer and the new one added, the drift counted
// once, and not every peer taken for missing as with an empty dump.
func TestOfferKeepsOnlyDigestOfConfirmedDump(t *testing.T) {
	t.Run("unchanged", func(t *testing.T) {
		f, a, n, _ := reconciledNode(t, 0)
		gen := f.node(n.ID).DesiredGeneration
		dump, at := pollDump(t, a.Client(t), a.Iface)
		pr := f.r.OfferBrief(n.ID, Observation{Peers: dump, ReadAt: at, Generation: gen})
		if obs := pr.j.obs; obs == nil || !obs.onlyDigest() {
			t.Fatalf("the job waits with %+v, want only the digest of the confirmed dump", obs)
		}
		f.start()
		res, err := pr.Wait(f.ctx)
		if err != nil || !res.Unchanged || res.Calls != 0 || !res.Acked {
			t.Fatalf("reconcile of the confirmed dump: %+v, %v; want it compared by digest", res, err)
		}
		f.checkDrift(n.ID, 0, 0)
	})

	t.Run("node moved meanwhile", func(t *testing.T) {
		f, a, n, peers := reconciledNode(t, -1)
		gen := f.node(n.ID).DesiredGeneration
		dump, at := pollDump(t, a.Client(t), a.Iface)
		pr := f.r.OfferBrief(n.ID, Observation{Peers: dump, ReadAt: at, Generation: gen})
		if obs := pr.j.obs; obs == nil || !obs.onlyDigest() {
			t.Fatalf("the job waits with %+v, want only the digest of the confirmed dump", obs)
		}
		f.addPeers(n.ID, 1)
		if err := a.Client(t).DeletePeer(f.ctx, a.Iface, peers[2].PublicKey); err != nil {
			t.Fatal(err)
		}
		f.start()
		res, err := pr.Wait(f.ctx)
		// Read again (1), then the two adds, then the dump that confirms
		// them (3).
		if err != nil || res.Unchanged || res.Added != 2 || res.Removed != 0 || res.Calls != 4 || !res.Acked || res.DriftCurrent != 0 {
			t.Fatalf("reconcile after the node moved: %+v, %v; want the agent read again and two peers added", res, err)
		}
		f.checkDrift(n.ID, 0, 1)
		f.assertConverged(a, n.ID)
	})

	t.Run("generation moved before the poll", func(t *testing.T) {
		f, a, n, _ := reconciledNode(t, -1)
		f.addPeers(n.ID, 1) // created while the agent was away: no push
		gen := f.node(n.ID).DesiredGeneration
		dump, at := pollDump(t, a.Client(t), a.Iface)
		pr := f.r.OfferBrief(n.ID, Observation{Peers: dump, ReadAt: at, Generation: gen})
		if obs := pr.j.obs; obs == nil || obs.onlyDigest() {
			t.Fatalf("the job waits with %+v, want the peers: the generation moved since the confirmation", obs)
		}
		f.start()
		res, err := pr.Wait(f.ctx)
		// The offered dump compared: the add and the dump that confirms it.
		if err != nil || res.Added != 1 || res.Calls != 2 || !res.Acked {
			t.Fatalf("reconcile of the offered dump: %+v, %v; want the new peer added from it, not read again", res, err)
		}
		f.checkDrift(n.ID, 0, 0)
		f.assertConverged(a, n.ID)
	})
}

// reconciledNode is a fixture (newFixture(t, bulkThreshold)) with one
// node, n1, on a real agent under DriftRepair, given three peers and
// reconciled: the agent holds them and the node is in line.
func reconciledNode(t *testing.T, bulkThreshold int) (*fixture, *agenttest.Agent, store.Node, []store.Peer) {
	t.Helper()
	f := newFixture(t, bulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	peers := f.addPeers(n.ID, 3)
	f.reconcile(n.ID)
	return f, a, n, peers
}
