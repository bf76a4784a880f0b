package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/reconcile"
)

func TestDriftAndReconcileRoutes(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "edge-1", a, "10.99.0.0/24")
	path := fmt.Sprintf("/api/nodes/%d", n.ID)

	var drift []reconcile.Drift
	c.do(t, "GET", path+"/drift", nil).want(t, 200).decode(t, &drift)
	if drift == nil || len(drift) != 0 {
		t.Errorf("no drift: data %v, want []", drift)
	}
	e.rec.set([]reconcile.Drift{{Kind: reconcile.DriftUnknown, PublicKey: "k="}}, nil)
	c.do(t, "GET", path+"/drift", nil).want(t, 200).decode(t, &drift)
	if len(drift) != 1 || drift[0].Kind != reconcile.DriftUnknown {
		t.Errorf("drift %+v", drift)
	}

	var res reconcile.Result
	c.do(t, "POST", path+"/reconcile", nil).want(t, 200).decode(t, &res)
	if rep := e.rec.repaired(); res.NodeID != n.ID || len(rep) != 1 || rep[0] != n.ID {
		t.Errorf("reconcile result %+v, repairs %v", res, rep)
	}

	e.rec.set(nil, fmt.Errorf("reconciling node %d: %w: dial tcp: refused", n.ID, agentclient.ErrUnreachable))
	r := c.do(t, "POST", path+"/reconcile", nil).want(t, 502)
	if !strings.Contains(r.msg(), "unreachable") {
		t.Errorf("unreachable: %q", r.msg())
	}
	e.rec.set(nil, fmt.Errorf("drift of node %d: %w", n.ID, reconcile.ErrNodeDisabled))
	c.do(t, "GET", path+"/drift", nil).want(t, 409)
	c.do(t, "GET", "/api/nodes/x/drift", nil).want(t, 400)

	// Without a reconciler the routes say so.
	off := newEnv(t, envOptions{noReconciler: true})
	oc := off.login(t)
	r = oc.do(t, "GET", "/api/nodes/1/drift", nil).want(t, 503)
	if !strings.Contains(r.msg(), "reconciler") {
		t.Errorf("no reconciler: %q", r.msg())
	}
	oc.do(t, "POST", "/api/nodes/1/reconcile", nil).want(t, 503)
}

// With the real reconciler: a peer created through the API reaches the
// agent's dump with its /32 when the node is reconciled through the API,
// and the drift it showed before is gone.
func TestReconcileWithRealReconciler(t *testing.T) {
	e := newEnv(t, envOptions{realReconciler: true})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "edge-1", a, "10.99.0.0/24")
	p := createPeer(t, c, n.ID, map[string]any{"name": "laptop"})
	path := fmt.Sprintf("/api/nodes/%d", n.ID)

	var drift []reconcile.Drift
	c.do(t, "GET", path+"/drift", nil).want(t, 200).decode(t, &drift)
	if len(drift) != 1 || drift[0].Kind != reconcile.DriftMissing || drift[0].PublicKey != p.PublicKey {
		t.Fatalf("drift before reconcile %+v, want the new peer missing", drift)
	}

	var res reconcile.Result
	c.do(t, "POST", path+"/reconcile", nil).want(t, 200).decode(t, &res)
	if !res.Acked || !res.Repaired {
		t.Errorf("result %+v", res)
	}
	dump, err := a.Client(t).Dump(t.Context(), a.Iface)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, dp := range dump.Peers {
		if dp.PublicKey == p.PublicKey {
			found = len(dp.AllowedIPs) == 1 && dp.AllowedIPs[0] == p.Address4+"/32"
		}
	}
	if !found {
		t.Errorf("agent dump %+v lacks peer %s with %s/32", dump.Peers, p.PublicKey, p.Address4)
	}
	var got struct {
		SyncState string `json:"sync_state"`
	}
	c.do(t, "GET", fmt.Sprintf("/api/peers/%d", p.ID), nil).want(t, 200).decode(t, &got)
	if got.SyncState != "applied" {
		t.Errorf("sync_state %q after reconcile, want applied", got.SyncState)
	}
	c.do(t, "GET", path+"/drift", nil).want(t, 200).decode(t, &drift)
	if len(drift) != 0 {
		t.Errorf("drift after reconcile %+v", drift)
	}
	c.do(t, "POST", "/api/nodes/999/reconcile", nil).want(t, 404)
}
