package api

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
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
