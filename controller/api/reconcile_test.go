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
