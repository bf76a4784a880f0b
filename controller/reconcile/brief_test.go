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
		f := newFixture(t, 0)
		a := agenttest.Start(t, agenttest.Options{})
		n := f.addNode("n1", a, store.DriftRepair)
		peers := f.addPeers(n.ID, 3)
		f.reconcile(n.ID)
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
		f := newFixture(t, 0)
		a := agenttest.Start(t, agenttest.Options{})
		n := f.addNode("n1", a, store.DriftRepair)
		peers := f.addPeers(n.ID, 3)
		f.reconcile(n.ID)
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
