package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/fleet"
)

// TestNodeGuardRails: through the API, a node without an endpoint is a
// 400 on that field, and a pool overlapping another node's a 409 on the
// pool's field (the UI shows it beside the field) unless the body says
// "allow_overlap": true.
func TestNodeGuardRails(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	body := func(name, pool string) map[string]any {
		return map[string]any{
			"name": name, "agent_url": "http://127.0.0.1:1", "secret": strings.Repeat("s", 32),
			"endpoint": name + ".example.net:51820", "ip_pool_cidr": pool,
		}
	}
	c.do(t, "POST", "/api/nodes", body("guard-a", "10.60.0.0/24")).want(t, 201)

	noEndpoint := body("guard-b", "10.61.0.0/24")
	delete(noEndpoint, "endpoint")
	r := c.do(t, "POST", "/api/nodes", noEndpoint).want(t, 400)
	if r.field() != "endpoint" || !strings.Contains(r.msg(), "endpoint: is required") {
		t.Errorf("no endpoint: field %q, message %q", r.field(), r.msg())
	}

	r = c.do(t, "POST", "/api/nodes", body("guard-b", "10.60.0.128/25")).want(t, 409)
	if r.field() != "ip_pool_cidr" || !strings.Contains(r.msg(), "overlaps the pool 10.60.0.0/24 of node guard-a") {
		t.Errorf("overlap: field %q, message %q", r.field(), r.msg())
	}
	allowed := body("guard-b", "10.60.0.128/25")
	allowed["allow_overlap"] = true
	c.do(t, "POST", "/api/nodes", allowed).want(t, 201)
}

// TestPeerNameGuardRails: through the API a peer needs a name (400 on
// "name" when absent or blank) that no other peer of its node has, letter
// case aside (409 on "name" naming the peer that has it), on create and
// on rename; a move onto a node where the name is taken is a 409 on
// "node_id"; a bulk create skips the numbers taken on the node.
func TestPeerNameGuardRails(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	node := func(name, pool string) fleet.NodeView {
		var n fleet.NodeView
		c.do(t, "POST", "/api/nodes", map[string]any{
			"name": name, "agent_url": "http://127.0.0.1:1", "secret": strings.Repeat("s", 32),
			"endpoint": name + ".example.net:51820", "ip_pool_cidr": pool,
		}).want(t, 201).decode(t, &n)
		return n
	}
	n1, n2 := node("names-a", "10.62.0.0/24"), node("names-b", "10.63.0.0/24")
	peer := func(n fleet.NodeView, name string) fleet.PeerView {
		var p fleet.PeerView
		c.do(t, "POST", "/api/peers", map[string]any{"node_id": n.ID, "name": name}).want(t, 201).decode(t, &p)
		return p
	}
	alice := peer(n1, "alice")
	bob := peer(n1, "bob")
	alice2 := peer(n2, "Alice")

	for _, body := range []map[string]any{{"node_id": n1.ID}, {"node_id": n1.ID, "name": "  "}} {
		r := c.do(t, "POST", "/api/peers", body).want(t, 400)
		if r.field() != "name" || !strings.Contains(r.msg(), "name: is required") {
			t.Errorf("%v: field %q, message %q", body, r.field(), r.msg())
		}
	}
	r := c.do(t, "POST", "/api/peers", map[string]any{"node_id": n1.ID, "name": "ALICE"}).want(t, 409)
	if want := fmt.Sprintf("name: a peer named alice is already on node names-a (peer %d); choose another name", alice.ID); r.field() != "name" || r.msg() != want {
		t.Errorf("duplicate name: field %q, message %q; want %q", r.field(), r.msg(), want)
	}
	r = c.do(t, "PUT", fmt.Sprintf("/api/peers/%d", bob.ID), map[string]any{"name": "Alice"}).want(t, 409)
	if r.field() != "name" || !strings.Contains(r.msg(), "a peer named alice is already on node names-a") {
		t.Errorf("rename onto a taken name: field %q, message %q", r.field(), r.msg())
	}
	r = c.do(t, "POST", fmt.Sprintf("/api/peers/%d/move", alice2.ID), map[string]any{"node_id": n1.ID}).want(t, 409)
	if r.field() != "node_id" || !strings.Contains(r.msg(), "node names-a already has a peer named alice") {
		t.Errorf("move onto a taken name: field %q, message %q", r.field(), r.msg())
	}

	peer(n1, "cam-1")
	peer(n1, "CAM-2")
	var res fleet.BulkCreateResult
	c.do(t, "POST", "/api/peers/bulk", map[string]any{"count": 2, "name_prefix": "cam-", "node_id": fmt.Sprint(n1.ID)}).want(t, 201).decode(t, &res)
	if len(res.Peers) != 2 || res.Peers[0].Name != "cam-3" || res.Peers[1].Name != "cam-4" {
		t.Errorf("bulk names: %+v, want cam-3 and cam-4", res.Peers)
	}
}
