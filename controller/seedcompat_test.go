package controller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// startSeedAgent emulates an agent of the seed design, from the seed
// contract only (docs/AGENT_API.md without what it marks **extension**): it
// verifies HMAC over the raw request target, knows no nonce, serves only
// the bare seed endpoints (no /v1, no capabilities), takes everything after
// /peers/ as the key, and keeps its peers in memory. It records what the
// controller sent, so the test can hold the controller to the seed
// contract.
func startSeedAgent(t *testing.T) *agenttest.Fake {
	return agenttest.StartFake(t, agenttest.FakeOptions{
		Secret: "seed-agent-shared-secret", Capabilities: []string{}, Version: "1.0.0",
		Dialect: agenttest.Dialect{Paths: agenttest.PathsBare, Signing: agenttest.SignRawTarget},
	})
}

// seedPeers is the seed agent's peers: public key -> allowed IPs.
func seedPeers(seed *agenttest.Fake) map[string][]string {
	out := map[string][]string{}
	for _, p := range seed.Peers("wg0") {
		out[p.PublicKey] = p.AllowedIPs
	}
	return out
}

// TestControllerDrivesSeedAgent: our controller manages an agent of the
// seed design through the seed endpoints alone: peers are created and
// removed (keys with '/' in the path included), drift is repaired, no
// extension (/v1, nonce) is ever sent to it, and it is reported online.
func TestControllerDrivesSeedAgent(t *testing.T) {
	seed := startSeedAgent(t)
	h := startController(t, "")
	var n nodeJSON
	if status, raw := h.call("POST", "/api/nodes", map[string]any{
		"name": "seed-node", "agent_url": seed.URL, "secret": seed.Secret, "endpoint": "203.0.113.7:51820",
		"ip_pool_cidr": "10.90.0.0/24", "enabled": true,
	}, &n); status >= 300 {
		t.Fatalf("create node: %d %s", status, raw)
	}
	var ids []int64
	for i := 0; i < 12; i++ { // enough for a bulk change, which a seed agent cannot take
		var p peerJSON
		if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": fmt.Sprint("s", i)}, &p); status >= 300 {
			t.Fatalf("create peer: %d %s", status, raw)
		}
		ids = append(ids, p.ID)
	}
	eventually(t, 20*time.Second, "all peers on the seed agent", func() bool {
		return len(seed.Peers("wg0")) == 12
	})
	// Remove one through the API; put a stranger on the agent behind the
	// controller's back: both converge.
	if status, raw := h.call("DELETE", fmt.Sprintf("/api/peers/%d", ids[0]), nil, nil); status != 200 {
		t.Fatalf("delete: %d %s", status, raw)
	}
	stranger := mustKeyString(t)
	for !strings.Contains(stranger, "/") { // the seed's raw-key path with a slash in it
		stranger = mustKeyString(t)
	}
	strangerKey, err := wgtypes.ParseKey(stranger)
	if err != nil {
		t.Fatal(err)
	}
	seed.Edit("wg0", func(peers map[wgtypes.Key]agentapi.Peer) {
		peers[strangerKey] = agentapi.Peer{PublicKey: stranger, AllowedIPs: []string{"10.90.0.250/32"}}
	})
	eventually(t, 20*time.Second, "the seed agent to converge", func() bool {
		peers := seedPeers(seed)
		want, err := h.ctrl.Fleet().ListPeers(t.Context(), n.ID)
		if err != nil || len(peers) != len(want) {
			return false
		}
		for _, p := range want {
			if ips, ok := peers[p.PublicKey]; !ok || len(ips) != 1 || ips[0] != p.AllowedIPs[0] {
				return false
			}
		}
		return true
	})
	eventually(t, 20*time.Second, "the seed node online", func() bool {
		var got nodeJSON
		h.call("GET", fmt.Sprintf("/api/nodes/%d", n.ID), nil, &got)
		return got.Status == "online"
	})
	requests := seed.Requests()
	if len(requests) == 0 {
		t.Fatal("the seed agent recorded no requests")
	}
	nonces := 0
	for _, r := range requests {
		if r.Nonce != "" {
			nonces++
		}
		if strings.HasPrefix(r.RequestURI, "/v1/") {
			t.Errorf("the controller called an extension on a seed agent: %s %s", r.Method, r.RequestURI)
		}
	}
	if nonces != 0 {
		t.Errorf("the controller sent X-Nonce %d times to an agent that never advertised it", nonces)
	}
}
