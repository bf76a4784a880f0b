package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestNodeEndpoints(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})

	n := createNode(t, c, "edge-1", a, "10.99.0.0/24")
	if n.ID <= 0 {
		t.Errorf("created id = %d", n.ID)
	}
	testenv.Equal(t, "created name", n.Name, "edge-1")
	testenv.Equal(t, "created secret_set", n.SecretSet, true)
	testenv.Equal(t, "created agent_url", n.AgentURL, a.URL)
	testenv.Equal(t, "created enabled", n.Enabled, true)
	testenv.Equal(t, "created ip_pool", n.IPPool, "10.99.0.0/24")
	if t.Failed() {
		t.FailNow()
	}
	path := fmt.Sprintf("/api/nodes/%d", n.ID)

	var list []fleet.NodeView
	c.do(t, "GET", "/api/nodes", nil).want(t, 200).decode(t, &list)
	if len(list) != 1 || list[0].ID != n.ID {
		t.Errorf("list %+v", list)
	}
	var got fleet.NodeView
	c.do(t, "GET", path, nil).want(t, 200).decode(t, &got)
	if got.Name != "edge-1" || got.PeerCount != 0 {
		t.Errorf("get %+v", got)
	}

	// PUT changes what it gives; an absent secret keeps the stored one.
	c.do(t, "PUT", path, map[string]any{"name": "edge-one", "weight": 50}).want(t, 200).decode(t, &got)
	if got.Name != "edge-one" || got.Weight != 50 || got.AgentURL != a.URL {
		t.Errorf("after PUT %+v", got)
	}
	stored, err := e.st.GetNode(context.Background(), n.ID)
	if err != nil || string(stored.Secret) != a.Secret {
		t.Errorf("stored secret changed by a PUT without one (err %v)", err)
	}

	// Toggle: a body sets, no body flips.
	c.do(t, "POST", path+"/toggle", map[string]bool{"enabled": false}).want(t, 200).decode(t, &got)
	if got.Enabled || got.Status != "disabled" {
		t.Errorf("after toggle false: enabled %v status %s", got.Enabled, got.Status)
	}
	c.do(t, "POST", path+"/toggle", map[string]bool{"enabled": false}).want(t, 200).decode(t, &got)
	if got.Enabled {
		t.Error("toggle false twice enabled the node")
	}
	c.do(t, "POST", path+"/toggle", nil).want(t, 200).decode(t, &got)
	if !got.Enabled {
		t.Error("toggle without body did not flip to enabled")
	}
	c.do(t, "POST", path+"/toggle", nil).want(t, 200).decode(t, &got)
	if got.Enabled {
		t.Error("toggle without body did not flip to disabled")
	}
	c.do(t, "POST", path+"/toggle", map[string]any{"enabled": "yes"}).want(t, 400)
	c.do(t, "POST", path+"/toggle", map[string]bool{"enabled": true}).want(t, 200)

	// Test: the saved node's agent answers.
	r := c.do(t, "POST", path+"/test", nil).want(t, 200)
	var res fleet.TestResult
	r.decode(t, &res)
	if !r.env.Status || !res.OK || !strings.Contains(r.msg(), "answered") {
		t.Errorf("test: status %v, message %q, data %+v", r.env.Status, r.msg(), res)
	}

	c.do(t, "GET", "/api/nodes/999", nil).want(t, 404)
	c.do(t, "PUT", "/api/nodes/999", map[string]any{"name": "x"}).want(t, 404)
	c.do(t, "DELETE", "/api/nodes/999", nil).want(t, 404)
	c.do(t, "POST", "/api/nodes/999/toggle", nil).want(t, 404)
	c.do(t, "POST", "/api/nodes/999/test", nil).want(t, 404)
	for _, bad := range []string{"abc", "0", "-1", "1.5", "99999999999999999999"} {
		r := c.do(t, "GET", "/api/nodes/"+bad, nil).want(t, 400)
		if !strings.Contains(r.msg(), "node id must be a positive integer") {
			t.Errorf("id %q: message %q", bad, r.msg())
		}
	}
}

func TestConnectionTest(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})

	r := c.do(t, "POST", "/api/nodes/test", map[string]string{"agent_url": a.URL, "secret": a.Secret, "wg_interface": "wg0"}).want(t, 200)
	var res fleet.TestResult
	r.decode(t, &res)
	// A good agent.
	if !r.env.Status {
		t.Errorf("good agent: status false, message %q", r.msg())
	}
	testenv.Equal(t, "good agent ok", res.OK, true)
	if res.Version == "" {
		t.Error("good agent: no version")
	}
	testenv.Equal(t, "good agent interfaces", len(res.Interfaces), 1)

	r = c.do(t, "POST", "/api/nodes/test", map[string]string{"agent_url": a.URL, "secret": agenttest.RandomSecret(), "wg_interface": "wg0"}).want(t, 200)
	if r.env.Status || !strings.Contains(r.msg(), "secret") {
		t.Errorf("wrong secret: status %v message %q; want false and a message about the secret", r.env.Status, r.msg())
	}
	if strings.Contains(string(r.body), a.Secret) {
		t.Error("the answer holds the secret")
	}

	r = c.do(t, "POST", "/api/nodes/test", map[string]string{"agent_url": a.URL, "secret": a.Secret, "wg_interface": "wg7"}).want(t, 200)
	if r.env.Status || !strings.Contains(r.msg(), "wg7") {
		t.Errorf("unknown interface: status %v message %q", r.env.Status, r.msg())
	}

	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}
	r = c.do(t, "POST", "/api/nodes/test", map[string]string{"agent_url": a.URL, "secret": a.Secret}).want(t, 200)
	if r.env.Status || !strings.Contains(r.msg(), "reach") {
		t.Errorf("stopped agent: status %v message %q", r.env.Status, r.msg())
	}

	r = c.do(t, "POST", "/api/nodes/test", map[string]string{"agent_url": "ftp://x", "secret": a.Secret}).want(t, 400)
	if r.field() != "agent_url" {
		t.Errorf("bad URL: field %q message %q", r.field(), r.msg())
	}
	if e.counts(t).nodes != 0 {
		t.Error("a connection test saved a node")
	}
}

func TestDeleteNodeWithPeers(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "edge-1", a, "10.99.0.0/24")
	p1 := createPeer(t, c, n.ID, map[string]any{"name": "laptop"})
	createPeer(t, c, n.ID, map[string]any{"name": "phone"})
	path := fmt.Sprintf("/api/nodes/%d", n.ID)

	r := c.do(t, "DELETE", path, nil).want(t, 409)
	if r.msg() != "node has 2 peers; use ?force=true to delete it with them" {
		t.Errorf("message %q", r.msg())
	}
	c.do(t, "DELETE", path+"?force=maybe", nil).want(t, 400)
	c.do(t, "GET", path, nil).want(t, 200)
	c.do(t, "DELETE", path+"?force=true", nil).want(t, 200)
	c.do(t, "GET", path, nil).want(t, 404)
	c.do(t, "GET", fmt.Sprintf("/api/peers/%d", p1.ID), nil).want(t, 404)
	if got := e.counts(t); got.nodes != 0 || got.peers != 0 {
		t.Errorf("after force delete: %+v", got)
	}
	// The addresses are free again: a new node with the same pool hands
	// out the same first address.
	n2 := createNode(t, c, "edge-2", a, "10.99.0.0/24")
	if p := createPeer(t, c, n2.ID, map[string]any{"name": "laptop"}); p.Address4 != p1.Address4 {
		t.Errorf("first address after delete %s, want %s again", p.Address4, p1.Address4)
	}
}

func TestDrainNode(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a1 := agenttest.Start(t, agenttest.Options{})
	a2 := agenttest.Start(t, agenttest.Options{})
	n1 := createNode(t, c, "edge-1", a1, "10.99.0.0/24")
	n2 := createNode(t, c, "edge-2", a2, "10.98.0.0/24")
	for _, n := range []int64{n1.ID, n2.ID} {
		if err := e.st.RecordNodeHealth(context.Background(), n, store.NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
			t.Fatal(err)
		}
	}
	createPeer(t, c, n1.ID, map[string]any{"name": "a"})
	createPeer(t, c, n1.ID, map[string]any{"name": "b"})

	var res fleet.DrainResult
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/drain", n1.ID), nil).want(t, 200).decode(t, &res)
	if len(res.Moved) != 2 || res.Remaining != 0 {
		t.Fatalf("drain %+v", res)
	}
	var peers []fleet.PeerView
	c.do(t, "GET", fmt.Sprintf("/api/nodes/%d/peers", n2.ID), nil).want(t, 200).decode(t, &peers)
	if len(peers) != 2 {
		t.Errorf("target has %d peers, want 2", len(peers))
	}
	for _, p := range peers {
		if !strings.HasPrefix(p.Address4, "10.98.0.") {
			t.Errorf("moved peer %s has address %s, not from the target's pool", p.Name, p.Address4)
		}
	}
	c.do(t, "POST", "/api/nodes/999/drain", nil).want(t, 404)
}
