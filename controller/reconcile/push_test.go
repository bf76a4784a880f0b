package reconcile

import (
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

// waitApplied waits until every peer is applied in the store, failing
// the test after a generous bound (no timing is asserted: the bound only
// ends a test that would hang).
func (f *fixture) waitApplied(peers ...store.Peer) {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		done := 0
		for _, p := range peers {
			got, err := f.store.GetPeer(f.ctx, p.ID)
			if err != nil {
				f.t.Fatal(err)
			}
			if got.SyncState == store.SyncApplied {
				done++
			}
		}
		if done == len(peers) {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d of %d peers applied after 60s", done, len(peers))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPushAddsWithOneCall: a peer just created reaches a real agent with
// one add, and counts as applied once the one read of that peer after it
// (GET /v1/wg/{iface}/peers/{key}: the agent advertised interface-info)
// shows it; no reconcile of the node runs (no dump, no replace-all), and
// the node's generation is acknowledged, since the creation was the only
// change since the last acknowledgement.
func TestPushAddsWithOneCall(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 3)
	f.reconcile(n.ID) // the agent holds the first three, acknowledged
	f.rec.reset()

	p := f.addPeers(n.ID, 1)[0]
	gen := f.node(n.ID).DesiredGeneration
	f.start()
	f.r.Push(n.ID, p.ID, gen)
	f.waitApplied(p)

	if got := f.rec.count("POST peers"); got != 1 {
		t.Errorf("adds sent: %d, want 1", got)
	}
	if got := f.rec.count("GET peer"); got != 1 {
		t.Errorf("reads of the peer: %d, want 1 (after the add, to confirm it)", got)
	}
	if got := f.rec.total(); got != 2 {
		t.Errorf("agent calls: %d (%v), want 2: one add, one read of the peer", got, f.rec.counts)
	}
	if _, ok := devicePeers(t, a)[p.PublicKey]; !ok {
		t.Error("the pushed peer is not on the agent's device")
	}
	if got := f.node(n.ID); got.AckedGeneration != gen {
		t.Errorf("acked generation %d, want %d (the push's)", got.AckedGeneration, gen)
	}
	// The next reconcile finds nothing to do.
	f.rec.reset()
	if res := f.reconcile(n.ID); res.Repaired || len(res.Drift) != 0 || res.Calls != 1 {
		t.Errorf("reconcile after the push: %+v; want one read and nothing to do", res)
	}
}

// TestPushFailureEndsInReconcile: when the agent does not take the add
// (the call fails), the push leaves the peer pending and a reconcile of
// the node follows, which puts it there.
func TestPushFailureEndsInReconcile(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.reconcile(n.ID)
	f.rec.reset()

	var failed atomic.Bool
	f.rec.setHooks(func(r *http.Request) error {
		if r.Method == http.MethodPost && failed.CompareAndSwap(false, true) {
			return errors.New("connection reset (test)")
		}
		return nil
	}, nil)
	p := f.addPeers(n.ID, 1)[0]
	f.start()
	f.r.Push(n.ID, p.ID, f.node(n.ID).DesiredGeneration)
	f.waitApplied(p)
	if !failed.Load() {
		t.Fatal("the add was never sent")
	}
	if got := f.rec.count("POST peers"); got != 2 {
		t.Errorf("adds sent: %d, want 2 (the push's, failed, then the reconcile's)", got)
	}
	if f.rec.count("GET dump") < 1 {
		t.Error("no dump read: the reconcile that should follow a failed push did not run")
	}
	if _, ok := devicePeers(t, a)[p.PublicKey]; !ok {
		t.Error("the peer is not on the agent's device")
	}
}

// TestPushLeavesOthersToReconcile: a push touches only pending peers on
// their node: a disabled peer, or one already applied, is not sent.
func TestPushLeavesOthersToReconcile(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	ps := f.addPeers(n.ID, 2)
	f.reconcile(n.ID)
	if err := f.store.SetPeerEnabled(f.ctx, ps[1].ID, false); err != nil {
		t.Fatal(err)
	}
	f.rec.reset()
	res, confirmed, err := f.r.pushPeers(f.ctx, n.ID, []pushed{{ps[0].ID, 1}, {ps[1].ID, 2}})
	if err != nil || res.Calls != 0 || res.Reconcile || confirmed != nil {
		t.Fatalf("push of an applied and a disabled peer: %+v, %v; want no call and no reconcile", res, err)
	}
	if got := f.rec.total(); got != 0 {
		t.Errorf("agent calls: %d, want none", got)
	}
}

// TestConfirmGenerations: the acknowledged generation moves up only over
// generations that pushes confirmed, without a gap.
func TestConfirmGenerations(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps [][]int64 // confirmed generations, one call each
		acked int64
		want  []int64 // what each call returns
	}{
		{"one creation", [][]int64{{5}}, 4, []int64{5}},
		{"out of order", [][]int64{{6}, {5}}, 4, []int64{4, 6}},
		{"a gap: another change between", [][]int64{{5, 7}}, 4, []int64{5}},
		{"below acked is forgotten", [][]int64{{3, 4}}, 4, []int64{4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &nodeState{}
			var got []int64
			for _, gens := range c.steps {
				got = append(got, st.confirmGenerations(gens, c.acked))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("confirmGenerations: %v, want %v", got, c.want)
			}
		})
	}
}

// TestPushDoesNotWaitForItsRecord: a push hands what its dump confirmed to
// the recorder and lets its node go, so the node's next push reaches the
// agent while the first one's record cannot commit (the store's writer is
// held); once the writer is free both are recorded, applied, and the
// generation acknowledged over both creations.
func TestPushDoesNotWaitForItsRecord(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.reconcile(n.ID)
	first := f.addPeers(n.ID, 1)[0]
	gen1 := f.node(n.ID).DesiredGeneration
	second := f.addPeers(n.ID, 1)[0]
	gen2 := f.node(n.ID).DesiredGeneration
	f.start()

	// Hold the writer: no write transaction commits until release.
	release := storetest.HoldWriter(t, f.ctx, f.store)

	onAgent := func(k wgtypes.Key) func() bool {
		return func() bool { _, ok := devicePeers(t, a)[k]; return ok }
	}
	f.r.Push(n.ID, first.ID, gen1)
	waitFor(t, onAgent(first.PublicKey))
	f.r.Push(n.ID, second.ID, gen2)
	waitFor(t, onAgent(second.PublicKey))
	for _, p := range []store.Peer{first, second} {
		if got, err := f.store.GetPeer(f.ctx, p.ID); err != nil || got.SyncState != store.SyncPending {
			t.Errorf("peer %d before its record committed: %v (err %v), want pending", p.ID, got.SyncState, err)
		}
	}

	if err := release(); err != nil {
		t.Fatal(err)
	}
	f.waitApplied(first, second)
	waitFor(t, func() bool { return f.node(n.ID).AckedGeneration == gen2 })
}

// TestPushBatchGoesInOneCall: the pushes of one node that waited for
// their turn together, BulkThreshold or more of them, reach the agent in
// one replace-all (the node's reconcile: its dump, the replace-all, the
// dump that confirms it), not one add each; every peer ends applied and
// the generation acknowledged.
func TestPushBatchGoesInOneCall(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 3)
	f.reconcile(n.ID) // the agent holds three peers
	batch := f.addPeers(n.ID, DefaultBulkThreshold+2)
	f.rec.reset()
	gen := f.pushTogether(n.ID, batch)
	f.start()
	f.waitApplied(batch...)

	if got := f.rec.count("PUT sync"); got != 1 {
		t.Errorf("replace-alls: %d, want 1", got)
	}
	if got := f.rec.count("POST peers"); got != 0 {
		t.Errorf("single adds: %d, want none", got)
	}
	peers := devicePeers(t, a)
	for _, p := range batch {
		if _, ok := peers[p.PublicKey]; !ok {
			t.Errorf("peer %s is not on the agent's device", p.Name)
		}
	}
	if len(peers) != 3+len(batch) {
		t.Errorf("the device holds %d peers, want %d", len(peers), 3+len(batch))
	}
	waitFor(t, func() bool { return f.node(n.ID).AckedGeneration == gen })
}
