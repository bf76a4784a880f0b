package reconcile

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestCurrentDrift follows a node's current drift (what is out of line
// now) beside its drift count (how often new drift was seen), with a real
// agent changed behind the controller's back.
func TestCurrentDrift(t *testing.T) {
	t.Run("report, then repair now", func(t *testing.T) {
		f := newFixture(t, 0)
		a := agenttest.Start(t, agenttest.Options{})
		n := f.addNode("n1", a, store.DriftReport)
		peers := f.addPeers(n.ID, 3)
		if got := f.node(n.ID); !got.DriftCheckedAt.IsZero() {
			t.Fatalf("drift checked at %v before any reconcile", got.DriftCheckedAt)
		}
		if res := f.reconcile(n.ID); res.DriftCurrent != 0 {
			t.Fatalf("first reconcile: %+v", res)
		}
		f.checkDrift(n.ID, 0, 0)
		if f.node(n.ID).DriftCheckedAt.IsZero() {
			t.Fatal("a reconcile did not stamp drift_checked_at")
		}

		if err := a.Client(t).DeletePeer(f.ctx, a.Iface, peers[0].PublicKey); err != nil {
			t.Fatal(err)
		}
		// Drift is a look: it records nothing.
		if d, err := f.r.Drift(f.ctx, n.ID); err != nil || len(d) != 1 {
			t.Fatalf("drift = %+v, %v; want one difference", d, err)
		}
		f.checkDrift(n.ID, 0, 0)

		res := f.reconcile(n.ID)
		if res.DriftCurrent != 1 || res.Repaired {
			t.Fatalf("report reconcile: %+v", res)
		}
		f.checkDrift(n.ID, 1, 1)
		// Seen again: still there, counted once.
		f.reconcile(n.ID)
		f.checkDrift(n.ID, 1, 1)

		// The controller's own change is not drift: a new peer, applied
		// under report, leaves the one difference.
		f.addPeers(n.ID, 1)
		if res := f.reconcile(n.ID); res.Added != 1 || res.DriftCurrent != 1 {
			t.Fatalf("controller change under report: %+v", res)
		}
		f.checkDrift(n.ID, 1, 1)

		res, err := f.r.Repair(f.ctx, n.ID)
		if err != nil || !res.Repaired || res.DriftCurrent != 0 {
			t.Fatalf("repair: %+v, %v", res, err)
		}
		f.checkDrift(n.ID, 0, 1)
		f.assertConverged(a, n.ID)
	})

	t.Run("repair policy, from the poller's dump", func(t *testing.T) {
		f := newFixture(t, 0)
		a := agenttest.Start(t, agenttest.Options{})
		n := f.addNode("n1", a, store.DriftRepair)
		peers := f.addPeers(n.ID, 3)
		f.reconcile(n.ID)
		if err := a.Client(t).DeletePeer(f.ctx, a.Iface, peers[1].PublicKey); err != nil {
			t.Fatal(err)
		}
		readAt := time.Now()
		d, err := a.Client(t).Dump(f.ctx, a.Iface)
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.offer(n.ID, d.Peers, readAt)
		if err != nil || !res.Repaired || len(res.Drift) != 1 || res.DriftCurrent != 0 {
			t.Fatalf("reconcile: %+v, %v", res, err)
		}
		// Seen (counted) and repaired at once: nothing is out of line.
		f.checkDrift(n.ID, 0, 1)
	})

	t.Run("agent stops answering mid-repair", func(t *testing.T) {
		f := newFixture(t, -1)
		a := agenttest.Start(t, agenttest.Options{})
		n := f.addNode("n1", a, store.DriftRepair)
		peers := f.addPeers(n.ID, 3)
		f.reconcile(n.ID)
		if err := a.Client(t).DeletePeer(f.ctx, a.Iface, peers[0].PublicKey); err != nil {
			t.Fatal(err)
		}
		f.addPeers(n.ID, 1) // pending: the controller's own, not drift

		down := errors.New("agent down")
		f.rec.setHooks(func(r *http.Request) error {
			if r.Method == http.MethodPost {
				return down
			}
			return nil
		}, nil)
		res, err := f.r.ReconcileNode(f.ctx, n.ID)
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("reconcile: %v, want ErrUnreachable", err)
		}
		if len(res.Drift) != 2 || res.DriftCurrent != 1 {
			t.Fatalf("result %+v: want two differences, one of them out-of-band and left", res)
		}
		f.checkDrift(n.ID, 1, 1)

		f.rec.setHooks(nil, nil)
		if res := f.reconcile(n.ID); res.DriftCurrent != 0 || res.Added != 2 {
			t.Fatalf("after the agent is back: %+v", res)
		}
		f.checkDrift(n.ID, 0, 1)
		f.assertConverged(a, n.ID)
	})
}

// checkDrift fails unless the node's current drift and drift count are
// the given ones.
func (f *fixture) checkDrift(nodeID int64, current int, count int64) {
	f.t.Helper()
	n := f.node(nodeID)
	if n.DriftCurrent != current || n.DriftCount != count {
		f.t.Fatalf("node drift: current %d, count %d; want %d and %d", n.DriftCurrent, n.DriftCount, current, count)
	}
}
