package controller_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
)

// checkConverged waits until the agent holds exactly the node's enabled
// peers from the database, each with its own /32, and checks that no
// address is given twice.
func checkConverged(t *testing.T, h *harness, a *agenttest.Agent, nodeID int64, wantPeers int) {
	t.Helper()
	ctx := context.Background()
	var last string
	eventually(t, 60*time.Second, "the agent to converge", func() bool {
		peers, err := h.ctrl.Fleet().ListPeers(ctx, nodeID)
		if err != nil {
			last = err.Error()
			return false
		}
		want := map[string]string{}
		addrs := map[string]bool{}
		for _, p := range peers {
			if addrs[p.Address4] {
				t.Fatalf("address %s given twice", p.Address4)
			}
			addrs[p.Address4] = true
			if p.Enabled {
				want[p.PublicKey] = p.AllowedIPs[0]
			}
		}
		d, err := a.Client(t).Dump(ctx, a.Iface)
		if err != nil {
			last = err.Error()
			return false
		}
		got := map[string]string{}
		for _, p := range d.Peers {
			if len(p.AllowedIPs) > 0 {
				got[p.PublicKey] = p.AllowedIPs[0]
			} else {
				got[p.PublicKey] = ""
			}
		}
		if len(peers) != wantPeers || len(got) != len(want) {
			last = fmt.Sprintf("database %d peers (%d enabled), agent %d", len(peers), len(want), len(got))
			return false
		}
		for k, v := range want {
			if got[k] != v {
				last = fmt.Sprintf("peer %s: agent has %q, want %q", k, got[k], v)
				return false
			}
		}
		return true
	})
	if t.Failed() {
		t.Log(last)
	}
}

// TestControllerRestartMidBatch: the controller is stopped while it is
// applying a burst of new peers, then started again on the same data
// directory; the agent converges with every peer, none twice.
func TestControllerRestartMidBatch(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	dir := t.TempDir()
	h := startController(t, dir)
	n := h.addNode("node-r", a, "10.96.0.0/22")
	const total = 300
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for i := 0; i < total; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprint("p", i)
			if _, err := h.ctrl.Fleet().CreatePeer(context.Background(), fleet.ActorSystem, n.ID, fleet.PeerInput{Name: &name}); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	h.stop() // mid-batch: the reconciler is still applying the burst
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("agent had %d of %d peers when the controller stopped", len(d.Peers), total)

	h2 := startController(t, dir)
	checkConverged(t, h2, a, n.ID, total)
}

// TestOutOfBandChangesRepaired: peers added and removed on the agent behind
// the controller's back are repaired by the poller without anybody acting,
// and a restricted peer stays off the agent.
func TestOutOfBandChangesRepaired(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	h := startController(t, "")
	n := h.addNode("node-o", a, "10.95.0.0/24")
	ctx := context.Background()
	var ids []int64
	for i := 0; i < 4; i++ {
		name := fmt.Sprint("p", i)
		p, err := h.ctrl.Fleet().CreatePeer(ctx, fleet.ActorSystem, n.ID, fleet.PeerInput{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	checkConverged(t, h, a, n.ID, 4)

	if _, err := h.ctrl.Fleet().SetPeerEnabled(ctx, fleet.ActorSystem, ids[3], false); err != nil {
		t.Fatal(err)
	}
	// Behind the controller's back: a stranger added, one of ours removed.
	victim, err := h.ctrl.Fleet().GetPeer(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	c := a.Client(t)
	if err := c.DeletePeer(ctx, a.Iface, mustParseKey(t, victim.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPeer(ctx, a.Iface, addReq(mustKeyString(t), "10.95.0.200/32")); err != nil {
		t.Fatal(err)
	}
	checkConverged(t, h, a, n.ID, 4)
}

// TestMoveAndDrainWithRealAgents: a moved peer leaves the source agent and
// arrives on the target with an address from the target's pool; draining
// empties the source agent; no address is given twice.
func TestMoveAndDrainWithRealAgents(t *testing.T) {
	a1 := agenttest.Start(t, agenttest.Options{})
	a2 := agenttest.Start(t, agenttest.Options{Addresses: nil})
	h := startController(t, "")
	n1 := h.addNode("node-m1", a1, "10.94.0.0/24")
	n2 := h.addNode("node-m2", a2, "10.93.0.0/24")
	ctx := context.Background()
	var ids []int64
	for i := 0; i < 3; i++ {
		name := fmt.Sprint("p", i)
		p, err := h.ctrl.Fleet().CreatePeer(ctx, fleet.ActorSystem, n1.ID, fleet.PeerInput{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	checkConverged(t, h, a1, n1.ID, 3)
	// Both nodes must be online for placement during the drain.
	eventually(t, 30*time.Second, "both nodes online", func() bool {
		var nodes []nodeJSON
		h.call("GET", "/api/nodes", nil, &nodes)
		return len(nodes) == 2 && nodes[0].Status == "online" && nodes[1].Status == "online"
	})

	var res fleet.MoveResult
	if status, raw := h.call("POST", fmt.Sprintf("/api/peers/%d/move", ids[0]), map[string]any{"node_id": n2.ID}, &res); status != 200 {
		t.Fatalf("move: %d %s", status, raw)
	}
	if res.Peer.ID != ids[0] || !res.ConfigChanged || !strings.HasPrefix(res.Address4, "10.93.0.") {
		t.Fatalf("move result: %+v", res)
	}
	checkConverged(t, h, a1, n1.ID, 2)
	checkConverged(t, h, a2, n2.ID, 1)

	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/drain", n1.ID), nil, nil); status != 200 {
		t.Fatalf("drain: %d %s", status, raw)
	}
	checkConverged(t, h, a1, n1.ID, 0)
	checkConverged(t, h, a2, n2.ID, 3)
}

// TestCurrentDriftInTheAPI: a node that only reports drift shows it in
// drift_current, found by the poller alone; "reconcile now" repairs it and
// drift_current goes back to 0 while drift_count keeps the history.
func TestCurrentDriftInTheAPI(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	h := startController(t, "")
	n := h.addNode("node-d", a, "10.93.0.0/24")
	if status, raw := h.call("PUT", fmt.Sprintf("/api/nodes/%d", n.ID), map[string]any{"drift_policy": "report"}, nil); status != 200 {
		t.Fatalf("set report policy: %d %s", status, raw)
	}
	ctx := context.Background()
	p, err := h.ctrl.Fleet().CreatePeer(ctx, fleet.ActorSystem, n.ID, fleet.PeerInput{Name: new("victim")})
	if err != nil {
		t.Fatal(err)
	}
	checkConverged(t, h, a, n.ID, 1)

	type driftJSON struct {
		DriftCurrent   int        `json:"drift_current"`
		DriftCount     int64      `json:"drift_count"`
		DriftCheckedAt *time.Time `json:"drift_checked_at"`
	}
	get := func() driftJSON {
		var d driftJSON
		if status, raw := h.call("GET", fmt.Sprintf("/api/nodes/%d", n.ID), nil, &d); status != 200 {
			t.Fatalf("get node: %d %s", status, raw)
		}
		return d
	}
	eventually(t, 30*time.Second, "a clean comparison", func() bool {
		d := get()
		return d.DriftCheckedAt != nil && d.DriftCurrent == 0 && d.DriftCount == 0
	})
	// The creation must be confirmed first: while the controller's own
	// push is unconfirmed (the peer's sync_state is "pending"), a peer
	// missing from the agent is the controller's unfinished change, which
	// it finishes under any policy, not out-of-band drift. Deleting it on
	// the agent between the push's add and the dump read after it made
	// this test time out in CI.
	eventually(t, 30*time.Second, "the creation to be confirmed", func() bool {
		var got struct {
			SyncState string `json:"sync_state"`
		}
		if status, raw := h.call("GET", fmt.Sprintf("/api/peers/%d", p.ID), nil, &got); status != 200 {
			t.Fatalf("get peer: %d %s", status, raw)
		}
		return got.SyncState == "applied"
	})

	if err := a.Client(t).DeletePeer(ctx, a.Iface, mustParseKey(t, p.PublicKey)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the poller to see the drift", func() bool {
		d := get()
		if d.DriftCurrent == 1 && d.DriftCount == 1 {
			return true
		}
		t.Logf("not yet: %+v", d)
		return false
	})

	var res struct {
		Repaired     bool `json:"repaired"`
		DriftCurrent int  `json:"drift_current"`
	}
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/reconcile", n.ID), nil, &res); status != 200 || !res.Repaired || res.DriftCurrent != 0 {
		t.Fatalf("reconcile now: %d %s", status, raw)
	}
	if d := get(); d.DriftCurrent != 0 || d.DriftCount != 1 {
		t.Fatalf("after reconcile now: %+v, want current 0 and count 1", d)
	}
	checkConverged(t, h, a, n.ID, 1)
}
