package api

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestNodeLabelsEndpoints: labels are set on create and edit, shown by
// GET, replaced whole or cleared with {}, kept when absent; a bad label is
// a 400 naming it that changes nothing; ?label= filters, several AND.
func TestNodeLabelsEndpoints(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})

	mk := func(name, pool string, labels map[string]string) fleet.NodeView {
		t.Helper()
		body := nodeBody(name, a, pool)
		if labels != nil {
			body["labels"] = labels
		}
		var n fleet.NodeView
		c.do(t, "POST", "/api/nodes", body).want(t, 201).decode(t, &n)
		return n
	}
	eu1 := mk("lbl-eu1", "10.61.0.0/24", map[string]string{"region": "eu-west", "provider": "hetzner"})
	eu2 := mk("lbl-eu2", "10.62.0.0/24", map[string]string{"region": "eu-west", "provider": "ovh"})
	us := mk("lbl-us", "10.63.0.0/24", map[string]string{"region": "us-east", "provider": "hetzner"})
	bare := mk("lbl-bare", "10.64.0.0/24", nil)
	if eu1.Labels.String() != "provider=hetzner,region=eu-west" {
		t.Errorf("created labels %v", eu1.Labels)
	}
	// A node without labels shows {} rather than null.
	r := c.do(t, "GET", fmt.Sprintf("/api/nodes/%d", bare.ID), nil).want(t, 200)
	if !strings.Contains(string(r.env.Data), `"labels":{}`) {
		t.Errorf("node without labels: %s", r.env.Data)
	}

	list := func(q string) string {
		t.Helper()
		var nodes []fleet.NodeView
		c.do(t, "GET", "/api/nodes"+q, nil).want(t, 200).decode(t, &nodes)
		var names []string
		for _, n := range nodes {
			names = append(names, n.Name)
		}
		return strings.Join(names, " ")
	}
	filters := []struct{ query, want string }{
		{"", "lbl-eu1 lbl-eu2 lbl-us lbl-bare"},
		{"?label=region=eu-west", "lbl-eu1 lbl-eu2"},
		{"?label=" + url.QueryEscape("region=eu-west"), "lbl-eu1 lbl-eu2"},
		{"?label=provider=hetzner", "lbl-eu1 lbl-us"},
		{"?label=region=eu-west&label=provider=hetzner", "lbl-eu1"},
		{"?label=region=ap-south", ""},
	}
	for _, f := range filters {
		if got := list(f.query); got != f.want {
			t.Errorf("GET /api/nodes%s = %q, want %q", f.query, got, f.want)
		}
	}
	for _, q := range []string{"?label=region", "?label=Region=eu", "?label=region=", "?label=region=eu&label=region=us"} {
		r := c.do(t, "GET", "/api/nodes"+q, nil).want(t, 400)
		if !strings.Contains(r.msg(), "label") {
			t.Errorf("GET /api/nodes%s: message %q does not speak of the label", q, r.msg())
		}
	}

	path := fmt.Sprintf("/api/nodes/%d", us.ID)
	var got fleet.NodeView
	// Absent labels are kept.
	c.do(t, "PUT", path, map[string]any{"weight": 40}).want(t, 200).decode(t, &got)
	if got.Labels.String() != "provider=hetzner,region=us-east" {
		t.Errorf("labels after a PUT without them: %v", got.Labels)
	}
	// A bad entry: 400 naming it, and neither it nor the weight is applied.
	before := e.counts(t)
	for body, want := range map[string]string{
		`{"weight": 1, "labels": {"region": "us-west", "Tier": "gold"}}`: `label "Tier"`,
		`{"weight": 1, "labels": {"region": "us west"}}`:                 `label "region"`,
		`{"weight": 1, "labels": {"region": ""}}`:                        `label "region": the value is empty`,
		`{"weight": 1, "labels": {"region": 5}}`:                         "an object of strings",
		`{"weight": 1, "labels": ["region=x"]}`:                          "labels",
	} {
		r := c.do(t, "PUT", path, body).want(t, 400)
		if !strings.Contains(r.msg(), want) || r.field() == "" || !strings.HasPrefix(r.field(), "labels") {
			t.Errorf("PUT %s: message %q field %q, want a message containing %q on field labels", body, r.msg(), r.field(), want)
		}
	}
	c.do(t, "GET", path, nil).want(t, 200).decode(t, &got)
	if got.Weight != 40 || got.Labels.String() != "provider=hetzner,region=us-east" {
		t.Errorf("after refused PUTs: weight %d labels %v", got.Weight, got.Labels)
	}
	if after := e.counts(t); after != before {
		t.Errorf("refused PUTs wrote: %+v -> %+v", before, after)
	}
	// Replace the whole set, then clear it. (A fresh view each time:
	// decoding into a used one would merge the label maps.)
	got = fleet.NodeView{}
	c.do(t, "PUT", path, map[string]any{"labels": map[string]string{"region": "eu-west"}}).want(t, 200).decode(t, &got)
	if got.Labels.String() != "region=eu-west" {
		t.Errorf("labels after replacing: %v", got.Labels)
	}
	if l := list("?label=region=eu-west"); l != "lbl-eu1 lbl-eu2 lbl-us" {
		t.Errorf("eu-west after moving lbl-us there: %q", l)
	}
	got = fleet.NodeView{}
	c.do(t, "PUT", path, map[string]any{"labels": map[string]string{}}).want(t, 200).decode(t, &got)
	if len(got.Labels) != 0 {
		t.Errorf("labels after {}: %v", got.Labels)
	}
	_ = eu2
}

// TestPlacementSelectorEndpoints: the placement object is decoded
// strictly, only goes with node_id "auto", and a selector no node fits is
// 409 naming it; a move with node_id "auto" stays in the peer's region
// unless any_region is given.
func TestPlacementSelectorEndpoints(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	mk := func(name, pool, region string, weight int) fleet.NodeView {
		t.Helper()
		body := nodeBody(name, a, pool)
		body["labels"] = map[string]string{"region": region}
		body["weight"] = weight
		var n fleet.NodeView
		c.do(t, "POST", "/api/nodes", body).want(t, 201).decode(t, &n)
		if err := e.st.RecordNodeHealth(context.Background(), n.ID, store.NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
			t.Fatal(err)
		}
		return n
	}
	eu1 := mk("pl-eu1", "10.71.0.0/24", "eu-west", 100)
	eu2 := mk("pl-eu2", "10.72.0.0/24", "eu-west", 100)
	us := mk("pl-us", "10.73.0.0/24", "us-east", 1000)

	var p fleet.PeerView
	c.do(t, "POST", "/api/peers", map[string]any{"node_id": "auto", "name": "placed-us", "placement": map[string]any{"labels": map[string]string{"region": "us-east"}}}).
		want(t, 201).decode(t, &p)
	if p.NodeID != us.ID {
		t.Fatalf("placed in us-east on node %d, want %d", p.NodeID, us.ID)
	}
	c.do(t, "POST", "/api/peers", map[string]any{"node_id": "auto", "name": "placed-eu", "placement": map[string]any{"labels": map[string]string{"region": "eu-west"}}}).
		want(t, 201).decode(t, &p)
	if p.NodeID != eu1.ID && p.NodeID != eu2.ID {
		t.Fatalf("placed in eu-west on node %d", p.NodeID)
	}

	before := e.counts(t)
	refused := []struct {
		name   string
		body   string
		status int
		field  string
		msg    string
	}{
		{"unknown placement key", `{"node_id": "auto", "placement": {"lables": {"region": "eu-west"}}}`, 400, "placement.lables", `placement: unknown field "lables"`},
		{"placement not an object", `{"node_id": "auto", "placement": "eu-west"}`, 400, "placement", "object"},
		{"bad selector", `{"node_id": "auto", "placement": {"labels": {"region": "eu west"}}}`, 400, "placement.labels", `label "region"`},
		{"placement with a node id", fmt.Sprintf(`{"node_id": %d, "placement": {"labels": {"region": "eu-west"}}}`, eu1.ID), 400, "placement", `only with node_id "auto"`},
		{"no node fits", `{"node_id": "auto", "placement": {"labels": {"region": "ap-south"}}}`, 409, "", "no node has labels region=ap-south"},
		{"two labels no node has", `{"node_id": "auto", "placement": {"labels": {"region": "eu-west", "tier": "gold"}}}`, 409, "", "no node has labels region=eu-west,tier=gold"},
	}
	for _, tt := range refused {
		r := c.do(t, "POST", "/api/peers", tt.body).want(t, tt.status)
		if !strings.Contains(r.msg(), tt.msg) || r.field() != tt.field {
			t.Errorf("%s: message %q field %q; want %q and field %q", tt.name, r.msg(), r.field(), tt.msg, tt.field)
		}
	}
	if after := e.counts(t); after != before {
		t.Errorf("refused placements wrote: %+v -> %+v", before, after)
	}

	// Move "auto": within the region by default, anywhere with any_region.
	var m fleet.MoveResult
	c.do(t, "POST", fmt.Sprintf("/api/peers/%d/move", p.ID), map[string]any{"node_id": "auto"}).want(t, 200).decode(t, &m)
	if m.FromNodeID == m.ToNodeID || (m.ToNodeID != eu1.ID && m.ToNodeID != eu2.ID) {
		t.Fatalf("auto move within eu-west: %+v", m)
	}
	c.do(t, "PUT", fmt.Sprintf("/api/nodes/%d", m.FromNodeID), map[string]any{"weight": 0}).want(t, 200)
	r := c.do(t, "POST", fmt.Sprintf("/api/peers/%d/move", p.ID), map[string]any{"node_id": "auto"}).want(t, 409)
	if !strings.Contains(r.msg(), "labels region=eu-west") {
		t.Errorf("auto move with no room in the region: %q", r.msg())
	}
	c.do(t, "POST", fmt.Sprintf("/api/peers/%d/move", p.ID), map[string]any{"node_id": "auto", "any_region": true}).want(t, 200).decode(t, &m)
	if m.ToNodeID != us.ID {
		t.Fatalf("auto move to any region went to %d, want %d", m.ToNodeID, us.ID)
	}
	for _, body := range []map[string]any{{}, {"node_id": "elsewhere"}, {"node_id": 0}, {"node_id": "auto", "any_region": "yes"}} {
		c.do(t, "POST", fmt.Sprintf("/api/peers/%d/move", p.ID), body).want(t, 400)
	}

	// Drain takes {"any_region": bool} or no body; nothing else.
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/drain", eu1.ID), map[string]any{"anyregion": true}).want(t, 400)
	var res fleet.DrainResult
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/drain", us.ID), nil).want(t, 409)
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/drain", us.ID), map[string]any{"any_region": true}).want(t, 200).decode(t, &res)
	if res.Remaining != 0 || res.Region != "" {
		t.Errorf("drain to any region: %+v", res)
	}
}
