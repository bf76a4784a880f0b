package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// Bad input is a 4xx whose message names the problem, and nothing is
// written: no row and no audit entry.
func TestBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "edge-1", a, "10.99.0.0/24")
	tiny := createNode(t, c, "tiny", a, "10.97.0.0/30")
	// Fill the /30: take addresses until the pool is exhausted.
	for i := 0; ; i++ {
		r := c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/peers", tiny.ID), map[string]any{"name": fmt.Sprint("p", i)})
		if r.status == 409 {
			break
		}
		r.want(t, 201)
		if i > 4 {
			t.Fatal("a /30 pool handed out more than 4 addresses")
		}
	}
	peer := createPeer(t, c, n.ID, map[string]any{"name": "laptop"})

	node := func(over map[string]any) map[string]any {
		b := nodeBody("edge-new", a, "10.50.0.0/24")
		for k, v := range over {
			b[k] = v
		}
		return b
	}
	nodes, peers := fmt.Sprintf("/api/nodes/%d/peers", n.ID), fmt.Sprintf("/api/peers/%d", peer.ID)
	for _, tc := range []struct {
		name         string
		method, path string
		body         any
		status       int
		field        string // data.field, when the problem is one field
		msg          string // the message must contain this
	}{
		{"invalid CIDR", "POST", "/api/nodes", node(map[string]any{"ip_pool_cidr": "10.0.0.0/33"}), 400, "ip_pool_cidr", `ip_pool_cidr: "10.0.0.0/33" is not a valid IPv4 CIDR (like 10.8.0.0/24)`},
		{"pool not a CIDR", "POST", "/api/nodes", node(map[string]any{"ip_pool_cidr": "banana"}), 400, "ip_pool_cidr", "ip_pool_cidr"},
		{"invalid IPv6 pool", "POST", "/api/nodes", node(map[string]any{"ip_pool6_cidr": "10.0.0.0/24"}), 400, "ip_pool6_cidr", "ip_pool6_cidr"},
		{"invalid URL", "POST", "/api/nodes", node(map[string]any{"agent_url": "ftp://agent"}), 400, "agent_url", "agent_url"},
		{"URL not a URL", "POST", "/api/nodes", node(map[string]any{"agent_url": "::"}), 400, "agent_url", "agent_url"},
		{"iface name", "POST", "/api/nodes", node(map[string]any{"wg_interface": "wg0; reboot"}), 400, "wg_interface", "wg_interface"},
		{"iface too long", "POST", "/api/nodes", node(map[string]any{"wg_interface": "wg0123456789abcdef"}), 400, "wg_interface", "wg_interface"},
		{"missing secret", "POST", "/api/nodes", node(map[string]any{"secret": nil}), 400, "secret", "secret"},
		{"missing name", "POST", "/api/nodes", node(map[string]any{"name": nil}), 400, "name", "name"},
		{"bad endpoint", "POST", "/api/nodes", node(map[string]any{"endpoint": "no port"}), 400, "endpoint", "endpoint"},
		{"negative weight", "POST", "/api/nodes", node(map[string]any{"weight": -1}), 400, "weight", "weight"},
		{"weight wrong type", "POST", "/api/nodes", node(map[string]any{"weight": "heavy"}), 400, "weight", `"weight" must be an integer`},
		{"weight fraction", "POST", "/api/nodes", node(map[string]any{"weight": 1.5}), 400, "weight", `"weight" must be an integer`},
		{"drift policy", "POST", "/api/nodes", node(map[string]any{"drift_policy": "ignore"}), 400, "drift_policy", "drift_policy"},
		{"unknown field", "POST", "/api/nodes", node(map[string]any{"colour": "red"}), 400, "colour", `unknown field "colour"`},
		{"wrong-case field", "POST", "/api/nodes", node(map[string]any{"Weight": 3}), 400, "Weight", `unknown field "Weight"`},
		{"duplicate name", "POST", "/api/nodes", node(map[string]any{"name": "edge-1"}), 409, "", "edge-1"},
		{"duplicate name on update", "PUT", fmt.Sprintf("/api/nodes/%d", tiny.ID), map[string]any{"name": "EDGE-1"}, 409, "", "EDGE-1"},
		{"non-JSON body", "POST", "/api/nodes", "name=edge", 400, "", "JSON object"},
		{"broken JSON", "POST", "/api/nodes", `{"name": "edge",}`, 400, "", "not valid JSON"},
		{"empty body", "POST", "/api/nodes", "", 400, "", "empty"},
		{"array body", "POST", "/api/nodes", `[{"name": "edge"}]`, 400, "", "JSON object"},
		{"trailing data", "POST", "/api/nodes", `{"name": "edge"} {}`, 400, "", "not valid JSON"},
		{"repeated key", "POST", "/api/nodes", `{"name": "a", "name": "b"}`, 400, "name", "given twice"},
		{"not UTF-8", "POST", "/api/nodes", "{\"name\": \"\xff\"}", 400, "", "UTF-8"},
		{"too large", "POST", "/api/nodes", `{"name": "` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, "", "exceeds"},
		{"unknown node", "PUT", "/api/nodes/4242", map[string]any{"name": "x"}, 404, "", "not found"},
		{"shrink pool under peers", "PUT", fmt.Sprintf("/api/nodes/%d", n.ID), map[string]any{"ip_pool_cidr": "10.99.1.0/24"}, 409, "", "pool"},

		{"invalid public key", "POST", nodes, map[string]any{"name": "x", "public_key": "notakey"}, 400, "public_key", "public_key"},
		{"short public key", "POST", nodes, map[string]any{"name": "x", "public_key": "AAAA"}, 400, "public_key", "public_key"},
		{"invalid preshared key", "POST", nodes, map[string]any{"name": "x", "preshared_key": "nope"}, 400, "preshared_key", "preshared_key"},
		{"address outside pool", "POST", nodes, map[string]any{"name": "x", "address": "192.168.1.5"}, 400, "address", "address"},
		{"address taken", "POST", nodes, map[string]any{"name": "x", "address": peer.Address4}, 409, "", peer.Address4},
		{"duplicate public key", "POST", nodes, map[string]any{"name": "x", "public_key": peer.PublicKey}, 409, "", "conflict"},
		{"bad client route", "POST", nodes, map[string]any{"name": "x", "client_allowed_ips": []string{"0.0.0.0/99"}}, 400, "client_allowed_ips", "client_allowed_ips"},
		{"routes wrong type", "POST", nodes, map[string]any{"name": "x", "client_allowed_ips": "0.0.0.0/0"}, 400, "client_allowed_ips", "must be an array of strings"},
		{"keepalive out of range", "POST", nodes, map[string]any{"name": "x", "persistent_keepalive": 70000}, 400, "persistent_keepalive", "persistent_keepalive"},
		{"pool exhausted", "POST", fmt.Sprintf("/api/nodes/%d/peers", tiny.ID), map[string]any{"name": "x"}, 409, "", "exhausted"},
		{"unknown node for peer", "POST", "/api/nodes/4242/peers", map[string]any{"name": "x"}, 404, "", "not found"},
		{"peer non-JSON", "POST", nodes, "hello", 400, "", "JSON object"},
		{"peer unknown field", "PUT", peers, map[string]any{"private_key": "x"}, 400, "private_key", `unknown field "private_key"`},
		{"peer bad key on update", "PUT", peers, map[string]any{"public_key": "bad"}, 400, "public_key", "public_key"},
		{"unknown peer", "PUT", "/api/peers/4242", map[string]any{"name": "x"}, 404, "", "not found"},
		{"move to unknown node", "POST", peers + "/move", map[string]any{"node_id": 4242}, 404, "", "not found"},
		{"toggle not JSON", "POST", fmt.Sprintf("/api/nodes/%d/toggle", n.ID), "on", 400, "", "JSON object"},
		{"bad id", "GET", "/api/peers/1e3", nil, 400, "", "peer id must be a positive integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.counts(t)
			r := c.do(t, tc.method, tc.path, tc.body)
			t.Logf("%d %s", r.status, r.msg())
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if r.env.Status {
				t.Error("envelope status true on an error")
			}
			if !strings.Contains(strings.ToLower(r.msg()), strings.ToLower(tc.msg)) {
				t.Errorf("message %q does not mention %q", r.msg(), tc.msg)
			}
			if tc.field != "" && r.field() != tc.field {
				t.Errorf("data.field %q, want %q (message %q)", r.field(), tc.field, r.msg())
			}
			if after := e.counts(t); after != before {
				t.Errorf("a refused request wrote: %+v -> %+v", before, after)
			}
		})
	}
}
