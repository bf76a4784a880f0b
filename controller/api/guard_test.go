package api

import (
	"strings"
	"testing"
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
