package controller_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
)

// TestPlacementByRegionWithRealAgents: three real agents in two regions.
// Peers placed with a region selector reach only that region's agents,
// although the other region's node is the best by weight; a selector no
// node fits is 409 naming it; ?label= filters; a drain stays in the region
// until told any_region.
func TestPlacementByRegionWithRealAgents(t *testing.T) {
	agents := map[string]*agenttest.Agent{
		"rg-eu1": agenttest.Start(t, agenttest.Options{}),
		"rg-eu2": agenttest.Start(t, agenttest.Options{Addresses: nil}),
		"rg-us1": agenttest.Start(t, agenttest.Options{Addresses: nil}),
	}
	regions := map[string]string{"rg-eu1": "eu-west", "rg-eu2": "eu-west", "rg-us1": "us-east"}
	pools := map[string]string{"rg-eu1": "10.81.0.0/24", "rg-eu2": "10.82.0.0/24", "rg-us1": "10.83.0.0/24"}
	h := startController(t, "")
	ids := map[string]int64{}
	for _, name := range []string{"rg-eu1", "rg-eu2", "rg-us1"} {
		a := agents[name]
		weight := 100
		if name == "rg-us1" {
			weight = 1000 // the best node, were it not for the region
		}
		var n nodeJSON
		status, raw := h.call("POST", "/api/nodes", map[string]any{
			"name": name, "agent_url": a.URL, "secret": a.Secret, "wg_interface": a.Iface,
			"endpoint": "127.0.0.1:" + fmt.Sprint(a.Tunnel(a.Iface).ListenPort()), "ip_pool_cidr": pools[name],
			"weight": weight, "labels": map[string]string{"region": regions[name], "provider": "test"},
		}, &n)
		if status != http.StatusCreated {
			t.Fatalf("create node %s: %d %s", name, status, raw)
		}
		ids[name] = n.ID
	}
	eventually(t, 30*time.Second, "all nodes online", func() bool {
		var nodes []nodeJSON
		h.call("GET", "/api/nodes", nil, &nodes)
		online := 0
		for _, n := range nodes {
			if n.Status == "online" {
				online++
			}
		}
		return online == 3
	})

	names := func(query string) []string {
		t.Helper()
		var nodes []nodeJSON
		if status, raw := h.call("GET", "/api/nodes"+query, nil, &nodes); status != http.StatusOK {
			t.Fatalf("GET /api/nodes%s: %d %s", query, status, raw)
		}
		var out []string
		for _, n := range nodes {
			out = append(out, n.Name)
		}
		return out
	}
	if got := names("?label=region=eu-west"); !slices.Equal(got, []string{"rg-eu1", "rg-eu2"}) {
		t.Errorf("?label=region=eu-west = %v", got)
	}
	if got := names("?label=region=us-east&label=provider=test"); !slices.Equal(got, []string{"rg-us1"}) {
		t.Errorf("?label=region=us-east&label=provider=test = %v", got)
	}

	eu := map[string]any{"labels": map[string]string{"region": "eu-west"}}
	for i := range 4 {
		var p peerJSON
		status, raw := h.call("POST", "/api/peers", map[string]any{"node_id": "auto", "name": fmt.Sprint("eu-", i), "placement": eu}, &p)
		if status != http.StatusCreated {
			t.Fatalf("placing peer %d in eu-west: %d %s", i, status, raw)
		}
	}
	checkConverged(t, h, agents["rg-eu1"], ids["rg-eu1"], 2)
	checkConverged(t, h, agents["rg-eu2"], ids["rg-eu2"], 2)
	checkConverged(t, h, agents["rg-us1"], ids["rg-us1"], 0)

	status, raw := h.call("POST", "/api/peers", map[string]any{"node_id": "auto",
		"placement": map[string]any{"labels": map[string]string{"region": "ap-south"}}}, nil)
	if status != http.StatusConflict || !strings.Contains(string(raw), "no node has labels region=ap-south") {
		t.Fatalf("placement in a region without nodes: %d %s", status, raw)
	}

	// A drain keeps the peers in eu-west, although rg-us1 is the best
	// node by weight.
	var res fleet.DrainResult
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/drain", ids["rg-eu1"]), nil, &res); status != http.StatusOK {
		t.Fatalf("drain rg-eu1: %d %s", status, raw)
	}
	if res.Region != "eu-west" || len(res.Moved) != 2 {
		t.Fatalf("drain result %+v", res)
	}
	checkConverged(t, h, agents["rg-eu1"], ids["rg-eu1"], 0)
	checkConverged(t, h, agents["rg-eu2"], ids["rg-eu2"], 4)
	checkConverged(t, h, agents["rg-us1"], ids["rg-us1"], 0)

	// With rg-eu1 at weight 0, eu-west has no room left for rg-eu2's
	// peers: 409 naming the region, until any_region.
	if status, raw := h.call("PUT", fmt.Sprintf("/api/nodes/%d", ids["rg-eu1"]), map[string]any{"weight": 0}, nil); status != http.StatusOK {
		t.Fatalf("weight 0: %d %s", status, raw)
	}
	status, raw = h.call("POST", fmt.Sprintf("/api/nodes/%d/drain", ids["rg-eu2"]), nil, nil)
	if status != http.StatusConflict || !strings.Contains(string(raw), "region eu-west") || !strings.Contains(string(raw), "any_region") {
		t.Fatalf("drain with no room in the region: %d %s", status, raw)
	}
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/drain", ids["rg-eu2"]), map[string]any{"any_region": true}, &res); status != http.StatusOK {
		t.Fatalf("drain rg-eu2 to any region: %d %s", status, raw)
	}
	checkConverged(t, h, agents["rg-eu2"], ids["rg-eu2"], 0)
	checkConverged(t, h, agents["rg-us1"], ids["rg-us1"], 4)
}
