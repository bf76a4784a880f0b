package api

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// bulkCreated is the data of a bulk create's answer.
type bulkCreated struct {
	IDs   []int64          `json:"ids"`
	Peers []fleet.PeerView `json:"peers"`
	Nodes map[string]int   `json:"nodes"`
}

// dumpKeys is the set of public keys the agent's dump shows.
func dumpKeys(t *testing.T, a *agenttest.Agent) map[string]bool {
	t.Helper()
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	keys := map[string]bool{}
	for _, p := range d.Peers {
		keys[p.PublicKey] = true
	}
	return keys
}

// reconcileNode applies the node's desired state to its agent now.
func reconcileNode(t *testing.T, c *client, id int64) {
	t.Helper()
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/reconcile", id), nil).want(t, 200)
}

// TestBulkCreatePeers: POST /api/peers/bulk makes N peers named on from
// the highest number their prefix has, each with its own keys and
// address and the lifecycle fields given; one reconcile puts them all on
// the agent, whose dump shows them.
func TestBulkCreatePeers(t *testing.T) {
	e := newEnv(t, envOptions{realReconciler: true})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "bulk-a", a, "10.81.0.0/24")
	createPeer(t, c, n.ID, map[string]any{"name": "laptop-7"})
	createPeer(t, c, n.ID, map[string]any{"name": "laptop-x"})
	createPeer(t, c, n.ID, map[string]any{"name": "Laptop-12"}) // another prefix: letter case counts

	exp := e.clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	r := c.do(t, "POST", "/api/peers/bulk", map[string]any{
		"count": 3, "name_prefix": "laptop-", "node_id": n.ID, "preshared_key": "auto",
		"expires_at": exp.Format(time.RFC3339), "data_limit_bytes": 1 << 30, "limit_action": "delete",
		"client_allowed_ips": []string{"10.0.0.0/8"},
	}).want(t, 201)
	if !strings.Contains(r.msg(), "3 peers created on node bulk-a") {
		t.Errorf("message %q", r.msg())
	}
	var got bulkCreated
	r.decode(t, &got)
	if len(got.IDs) != 3 || len(got.Peers) != 3 || got.Nodes[fmt.Sprint(n.ID)] != 3 {
		t.Fatalf("answer %+v", got)
	}
	addrs := map[string]bool{}
	for i, p := range got.Peers {
		want := fmt.Sprintf("laptop-%d", 8+i)
		switch {
		case p.ID != got.IDs[i] || p.Name != want:
			t.Errorf("peer %d: id %d name %q, want id %d name %q", i, p.ID, p.Name, got.IDs[i], want)
		case !p.HasPrivateKey || !p.HasPresharedKey || p.NodeID != n.ID:
			t.Errorf("peer %s: keys %v/%v node %d", p.Name, p.HasPrivateKey, p.HasPresharedKey, p.NodeID)
		case p.ExpiresAt == nil || !p.ExpiresAt.Equal(exp) || p.DataLimit == nil || *p.DataLimit != 1<<30 || p.LimitAction != "delete":
			t.Errorf("peer %s: lifecycle %v %v %q", p.Name, p.ExpiresAt, p.DataLimit, p.LimitAction)
		case !slices.Equal(p.ClientAllowedIPs, []string{"10.0.0.0/8"}) || p.Status != "active":
			t.Errorf("peer %s: routes %v status %q", p.Name, p.ClientAllowedIPs, p.Status)
		}
		if !netip.MustParsePrefix("10.81.0.0/24").Contains(netip.MustParseAddr(p.Address4)) || addrs[p.Address4] {
			t.Errorf("peer %s: address %s outside the pool or taken twice", p.Name, p.Address4)
		}
		addrs[p.Address4] = true
	}

	// The numbers go on past the batch; each peer is audited.
	var more bulkCreated
	c.do(t, "POST", "/api/peers/bulk", map[string]any{"count": 1, "name_prefix": "laptop-", "node_id": fmt.Sprint(n.ID)}).want(t, 201).decode(t, &more)
	testenv.Equal(t, "the next number", more.Peers[0].Name, "laptop-11")
	entries, err := e.st.ListAudit(context.Background(), store.AuditFilter{Actor: "user:admin", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	bulk := 0
	for _, en := range entries {
		if en.Action == "peer.create" && strings.Contains(string(en.Details), `"bulk":true`) {
			bulk++
		}
	}
	testenv.Equal(t, "peer.create entries marked bulk", bulk, 4)

	// One reconcile takes every new peer to the agent.
	reconcileNode(t, c, n.ID)
	keys := dumpKeys(t, a)
	for _, p := range append(got.Peers, more.Peers...) {
		if !keys[p.PublicKey] {
			t.Errorf("the agent's dump lacks %s", p.Name)
		}
	}
	testenv.Equal(t, "peers on the agent", len(keys), 7)
}

// TestBulkCreatePeersAuto: node_id "auto" spreads a batch over the
// online nodes as single creates would, skipping a full one; a batch that
// does not fit creates nothing.
func TestBulkCreatePeersAuto(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	var nodes []fleet.NodeView
	for i, pool := range []string{"10.83.0.0/24", "10.84.0.0/24"} {
		a := agenttest.Start(t, agenttest.Options{})
		body := nodeBody(fmt.Sprintf("bulk-auto-%d", i), a, pool)
		body["max_peers"] = 3
		var n fleet.NodeView
		c.do(t, "POST", "/api/nodes", body).want(t, 201).decode(t, &n)
		if err := e.st.RecordNodeHealth(context.Background(), n.ID, store.NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	var got bulkCreated
	c.do(t, "POST", "/api/peers/bulk", map[string]any{"count": 4, "name_prefix": "phone-", "node_id": "auto"}).want(t, 201).decode(t, &got)
	testenv.Equal(t, "peers on the first node", got.Nodes[fmt.Sprint(nodes[0].ID)], 2)
	testenv.Equal(t, "peers on the second node", got.Nodes[fmt.Sprint(nodes[1].ID)], 2)

	before := e.counts(t)
	r := c.do(t, "POST", "/api/peers/bulk", map[string]any{"count": 3, "name_prefix": "phone-", "node_id": "auto"}).want(t, 409)
	if !strings.Contains(r.msg(), "is full") {
		t.Errorf("message %q does not say the nodes are full", r.msg())
	}
	testenv.Equal(t, "rows after the refused batch", e.counts(t), before)
	c.do(t, "POST", "/api/peers/bulk", map[string]any{"count": 2, "name_prefix": "phone-", "node_id": "auto"}).want(t, 201).decode(t, &got)
	testenv.Equal(t, "names after a refused batch", got.Peers[0].Name+" "+got.Peers[1].Name, "phone-5 phone-6")
}

// TestBulkCreatePeersRefused: bad input is a 400 naming the field, and a
// batch the node's pool cannot hold is a 409; either way nothing is
// created.
func TestBulkCreatePeersRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "bulk-tiny", a, "10.85.0.0/29") // 5 usable addresses besides the node's
	base := func(extra map[string]any) map[string]any {
		b := map[string]any{"count": 2, "name_prefix": "tab-", "node_id": n.ID}
		for k, v := range extra {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	tests := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"no count", base(map[string]any{"count": nil}), 400, "count"},
		{"count 0", base(map[string]any{"count": 0}), 400, "count"},
		{"count too high", base(map[string]any{"count": fleet.MaxBulk + 1}), 400, "count"},
		{"count a string", base(map[string]any{"count": "3"}), 400, "count"},
		{"no prefix", base(map[string]any{"name_prefix": nil}), 400, "name_prefix"},
		{"empty prefix", base(map[string]any{"name_prefix": " "}), 400, "name_prefix"},
		{"prefix too long", base(map[string]any{"name_prefix": strings.Repeat("x", 64)}), 400, "name_prefix"},
		{"a name", base(map[string]any{"name": "one"}), 400, "name"},
		{"a public key", base(map[string]any{"public_key": "J+2ESi6FgRIQAzMwm/izxLhN8IM/kuhi9GOsUPpf+Vs="}), 400, "public_key"},
		{"an address", base(map[string]any{"address": "10.85.0.3"}), 400, "address"},
		{"one preshared key for all", base(map[string]any{"preshared_key": "J+2ESi6FgRIQAzMwm/izxLhN8IM/kuhi9GOsUPpf+Vs="}), 400, "preshared_key"},
		{"no node", base(map[string]any{"node_id": nil}), 400, "node_id"},
		{"bad node", base(map[string]any{"node_id": "edge"}), 400, "node_id"},
		{"placement with a node", base(map[string]any{"placement": map[string]any{"labels": map[string]string{"region": "eu"}}}), 400, "placement"},
		{"bad expiry", base(map[string]any{"expires_at": "tomorrow"}), 400, "expires_at"},
		{"bad limit action", base(map[string]any{"limit_action": "shout"}), 400, "limit_action"},
		{"bad route", base(map[string]any{"client_allowed_ips": []string{"10.0.0.0/33"}}), 400, "client_allowed_ips"},
		{"unknown field", base(map[string]any{"colour": "red"}), 400, "colour"},
		{"unknown node", base(map[string]any{"node_id": 999999}), 404, ""},
		{"more than the pool holds", base(map[string]any{"count": 6}), 409, ""},
	}
	before := e.counts(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(t, "POST", "/api/peers/bulk", tt.body).want(t, tt.status)
			if tt.field != "" && r.field() != tt.field {
				t.Errorf("field %q, want %q (message %q)", r.field(), tt.field, r.msg())
			}
			testenv.Equal(t, "rows after a refused bulk create", e.counts(t), before)
		})
	}
	// The pool holds exactly 5: all of them are made.
	c.do(t, "POST", "/api/peers/bulk", base(map[string]any{"count": 5})).want(t, 201)
}

// bulkResult is the data of a bulk action's answer.
type bulkResult struct {
	Action    string `json:"action"`
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
	Results   []struct {
		ID      int64           `json:"id"`
		OK      bool            `json:"ok"`
		Status  int             `json:"status"`
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Peer    *fleet.PeerView `json:"peer"`
	} `json:"results"`
}

// TestBulkAction: POST /api/peers/bulk-action answers per id; ids that
// fail (unknown, not a peer id, a move the target refuses) do not stop
// the others; what succeeded is audited per peer as the single routes do
// and, once reconciled, is what the agents' dumps show.
func TestBulkAction(t *testing.T) {
	e := newEnv(t, envOptions{realReconciler: true})
	c := e.login(t)
	aa, ab := agenttest.Start(t, agenttest.Options{}), agenttest.Start(t, agenttest.Options{})
	na := createNode(t, c, "bulk-src", aa, "10.86.0.0/24")
	nb := createNode(t, c, "bulk-dst", ab, "10.87.0.0/24")
	var made bulkCreated
	c.do(t, "POST", "/api/peers/bulk", map[string]any{"count": 6, "name_prefix": "desk-", "node_id": na.ID}).want(t, 201).decode(t, &made)
	p := made.Peers
	act := func(body map[string]any) bulkResult {
		t.Helper()
		var res bulkResult
		c.do(t, "POST", "/api/peers/bulk-action", body).want(t, 200).decode(t, &res)
		return res
	}
	type want struct {
		id     int64
		status int
		code   string
	}
	check := func(what string, res bulkResult, wants []want) {
		t.Helper()
		if len(res.Results) != len(wants) {
			t.Fatalf("%s: %d results, want %d: %+v", what, len(res.Results), len(wants), res)
		}
		ok := 0
		for i, w := range wants {
			got := res.Results[i]
			if got.ID != w.id || got.Status != w.status || got.Code != w.code || got.OK != (w.status == 200) || got.Message == "" {
				t.Errorf("%s: result %d = %+v, want id %d status %d code %s", what, i, got, w.id, w.status, w.code)
			}
			if w.status == 200 {
				ok++
			}
		}
		if res.Succeeded != ok || res.Failed != len(wants)-ok {
			t.Errorf("%s: succeeded %d failed %d, want %d and %d", what, res.Succeeded, res.Failed, ok, len(wants)-ok)
		}
	}

	res := act(map[string]any{"action": "restrict", "ids": []int64{p[0].ID, 999999, p[1].ID, -4, p[2].ID}})
	check("restrict", res, []want{{p[0].ID, 200, "ok"}, {999999, 404, "not_found"}, {p[1].ID, 200, "ok"}, {-4, 400, "invalid"}, {p[2].ID, 200, "ok"}})
	if res.Results[0].Peer == nil || res.Results[0].Peer.Status != "restricted" {
		t.Errorf("restrict: the peer in the answer %+v", res.Results[0].Peer)
	}
	res = act(map[string]any{"action": "allow", "ids": []int64{p[2].ID}})
	check("allow", res, []want{{p[2].ID, 200, "ok"}})
	res = act(map[string]any{"action": "move", "target_node_id": nb.ID, "ids": []int64{p[3].ID, p[4].ID}})
	check("move", res, []want{{p[3].ID, 200, "ok"}, {p[4].ID, 200, "ok"}})
	if mv := res.Results[0].Peer; mv == nil || mv.NodeID != nb.ID || !strings.HasPrefix(mv.Address4, "10.87.0.") {
		t.Errorf("moved peer %+v", mv)
	}
	// Moving onto the node a peer is on fails for that peer only.
	res = act(map[string]any{"action": "move", "target_node_id": nb.ID, "ids": []int64{p[4].ID, p[5].ID}})
	check("move again", res, []want{{p[4].ID, 400, "invalid"}, {p[5].ID, 200, "ok"}})
	res = act(map[string]any{"action": "delete", "ids": []int64{p[1].ID, p[5].ID, 999999}})
	check("delete", res, []want{{p[1].ID, 200, "ok"}, {p[5].ID, 200, "ok"}, {999999, 404, "not_found"}})
	if !strings.Contains(res.Results[2].Message, "not found") {
		t.Errorf("the unknown id's message: %q", res.Results[2].Message)
	}

	// The audit log has one entry per peer changed, by the caller.
	entries, err := e.st.ListAudit(context.Background(), store.AuditFilter{Actor: "user:admin", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, en := range entries {
		actions[en.Action]++
	}
	for action, n := range map[string]int{"peer.restrict": 3, "peer.allow": 1, "peer.move": 3, "peer.delete": 2} {
		testenv.Equal(t, "audit entries "+action, actions[action], n)
	}

	// What the agents show after a reconcile: on the source p[2] (allowed
	// again) alone; on the target the three moved.
	reconcileNode(t, c, na.ID)
	reconcileNode(t, c, nb.ID)
	onA, onB := dumpKeys(t, aa), dumpKeys(t, ab)
	wantA := map[string]bool{p[2].PublicKey: true}
	wantB := map[string]bool{p[3].PublicKey: true, p[4].PublicKey: true}
	if !mapsEqual(onA, wantA) {
		t.Errorf("the source agent shows %v, want only %s", onA, p[2].Name)
	}
	if !mapsEqual(onB, wantB) {
		t.Errorf("the target agent shows %v, want %s and %s", onB, p[3].Name, p[4].Name)
	}
	var restricted fleet.PeerView
	c.do(t, "GET", fmt.Sprintf("/api/peers/%d", p[0].ID), nil).want(t, 200).decode(t, &restricted)
	testenv.Equal(t, "the restricted peer's status", restricted.Status, "restricted")
	c.do(t, "GET", fmt.Sprintf("/api/peers/%d", p[1].ID), nil).want(t, 404)
}

// TestBulkActionRefused: a request wrong as a whole is a 400 naming the
// field, and does nothing.
func TestBulkActionRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "bulk-refuse", a, "10.88.0.0/24")
	p := createPeer(t, c, n.ID, map[string]any{"name": "one"})
	tooMany := make([]int64, fleet.MaxBulk+1)
	for i := range tooMany {
		tooMany[i] = int64(i + 1)
	}
	tests := []struct {
		name  string
		body  any
		field string
	}{
		{"no ids", map[string]any{"action": "restrict"}, "ids"},
		{"empty ids", map[string]any{"action": "restrict", "ids": []int64{}}, "ids"},
		{"too many ids", map[string]any{"action": "restrict", "ids": tooMany}, "ids"},
		{"an id twice", map[string]any{"action": "delete", "ids": []int64{p.ID, p.ID}}, "ids"},
		{"an id not a number", map[string]any{"action": "delete", "ids": []any{p.ID, "seven"}}, "ids"},
		{"no action", map[string]any{"ids": []int64{p.ID}}, "action"},
		{"unknown action", map[string]any{"action": "explode", "ids": []int64{p.ID}}, "action"},
		{"move without target", map[string]any{"action": "move", "ids": []int64{p.ID}}, "target_node_id"},
		{"move to a bad target", map[string]any{"action": "move", "ids": []int64{p.ID}, "target_node_id": "there"}, "target_node_id"},
		{"target on restrict", map[string]any{"action": "restrict", "ids": []int64{p.ID}, "target_node_id": n.ID}, "target_node_id"},
		{"any_region with a node", map[string]any{"action": "move", "ids": []int64{p.ID}, "target_node_id": n.ID, "any_region": true}, "any_region"},
		{"unknown field", map[string]any{"action": "delete", "ids": []int64{p.ID}, "force": true}, "force"},
	}
	before := e.counts(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(t, "POST", "/api/peers/bulk-action", tt.body).want(t, 400)
			if r.field() != tt.field {
				t.Errorf("field %q, want %q (message %q)", r.field(), tt.field, r.msg())
			}
			testenv.Equal(t, "rows after a refused bulk action", e.counts(t), before)
		})
	}
	var got fleet.PeerView
	c.do(t, "GET", fmt.Sprintf("/api/peers/%d", p.ID), nil).want(t, 200).decode(t, &got)
	testenv.Equal(t, "the peer after refused requests", got.Status, "active")
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
