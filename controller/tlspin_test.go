package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// pinnedNodeJSON is what the TLS tests read of a node.
type pinnedNodeJSON struct {
	ID             int64  `json:"id"`
	Status         string `json:"status"`
	LastError      string `json:"last_error"`
	TLSFingerprint string `json:"tls_fingerprint"`
}

// colonFingerprint writes fp as openssl does: upper case pairs joined by
// ":", to show the API takes an operator's copy as it comes.
func colonFingerprint(fp agentapi.Fingerprint) string {
	h := strings.ToUpper(fp.String())
	var pairs []string
	for i := 0; i < len(h); i += 2 {
		pairs = append(pairs, h[i:i+2])
	}
	return strings.Join(pairs, ":")
}

// TestPinnedTLSAgent (issue 12 item 2), with real agents serving TLS auto
// and a real controller:
//   - a node pinned to its agent's certificate is polled online over
//     HTTPS and takes peers;
//   - a forged agent (another self-signed certificate on the same address,
//     even with the right secret) is refused: the node shows status error
//     naming both fingerprints, a connection test and a repair answer with
//     the mismatch, and nothing is applied to the forged agent;
//   - a repin expecting another certificate is refused and pins nothing;
//     a deliberate repin pins the new certificate, is audited, and the node
//     works again with its peers pushed;
//   - the certificate survives a restart of the agent (same fingerprint,
//     no repin needed);
//   - an agent of the older design, plain http, works beside it.
func TestPinnedTLSAgent(t *testing.T) {
	ctx := context.Background()
	tlsAuto := agent.TLSConfig{Mode: agent.TLSAuto}
	real := agenttest.Start(t, agenttest.Options{Iface: "wg0", TLS: tlsAuto})
	plain := agenttest.Start(t, agenttest.Options{Iface: "wg0"})
	h := startControllerPolling(t, "", time.Second)

	var n pinnedNodeJSON
	status, raw := h.call("POST", "/api/nodes", map[string]any{
		"name": "tls-edge", "agent_url": real.URL, "secret": real.Secret, "wg_interface": "wg0",
		"endpoint": fmt.Sprintf("127.0.0.1:%d", real.Tunnel("wg0").ListenPort()), "ip_pool_cidr": "10.91.0.0/24",
		"tls_fingerprint": colonFingerprint(real.TLSFingerprint()),
	}, &n)
	if status != http.StatusCreated {
		t.Fatalf("create pinned node: %d %s", status, raw)
	}
	if n.TLSFingerprint != real.TLSFingerprint().String() {
		t.Fatalf("node tls_fingerprint %q, want the canonical %q", n.TLSFingerprint, real.TLSFingerprint())
	}
	plainNode := h.addNode("plain-edge", plain, "10.92.0.0/24")

	nodePath := fmt.Sprintf("/api/nodes/%d", n.ID)
	nodeIs := func(what, want string) pinnedNodeJSON {
		t.Helper()
		var got pinnedNodeJSON
		eventually(t, 15*time.Second, what, func() bool {
			h.call("GET", nodePath, nil, &got)
			return got.Status == want
		})
		return got
	}
	nodeIs("the pinned node online", "online")
	var pn nodeJSON
	eventually(t, 15*time.Second, "the plain http node online", func() bool {
		h.call("GET", fmt.Sprintf("/api/nodes/%d", plainNode.ID), nil, &pn)
		return pn.Status == "online"
	})

	var p1 peerJSON
	if status, raw := h.call("POST", nodePath+"/peers", map[string]any{"name": "over-tls"}, &p1); status != http.StatusCreated {
		t.Fatalf("create peer on the pinned node: %d %s", status, raw)
	}
	eventually(t, 15*time.Second, "the peer on the pinned agent", func() bool { return agentHasPeer(t, real, p1.PublicKey, p1.AllowedIPs[0]) })
	var pp peerJSON
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", plainNode.ID), map[string]any{"name": "over-http"}, &pp); status != http.StatusCreated {
		t.Fatalf("create peer on the plain node: %d %s", status, raw)
	}
	eventually(t, 15*time.Second, "the peer on the plain agent", func() bool { return agentHasPeer(t, plain, pp.PublicKey, pp.AllowedIPs[0]) })

	// The forged agent: same address, same secret, another certificate.
	if err := real.Stop(); err != nil {
		t.Fatal(err)
	}
	forged := agenttest.Start(t, agenttest.Options{Iface: "wg0", Addr: real.Addr, Secret: real.Secret, TLS: tlsAuto})
	if forged.TLSFingerprint() == real.TLSFingerprint() {
		t.Fatal("the forged agent has the real one's certificate")
	}
	got := nodeIs("the pinned node in error with the forged agent", "error")
	for _, want := range []string{real.TLSFingerprint().Short(), forged.TLSFingerprint().Short(), "mismatch"} {
		if !strings.Contains(got.LastError, want) {
			t.Errorf("last_error %q does not say %q", got.LastError, want)
		}
	}
	var p2 peerJSON
	if status, raw := h.call("POST", nodePath+"/peers", map[string]any{"name": "while-forged"}, &p2); status != http.StatusCreated {
		t.Fatalf("create peer while the agent is forged: %d %s", status, raw)
	}
	status, raw = h.call("POST", nodePath+"/reconcile", nil, nil)
	var env struct {
		Message string `json:"message"`
		Data    struct {
			Code      string `json:"code"`
			Pinned    string `json:"pinned"`
			Presented string `json:"presented"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || status != http.StatusBadGateway || env.Data.Code != "tls_pin_mismatch" ||
		env.Data.Pinned != real.TLSFingerprint().String() || env.Data.Presented != forged.TLSFingerprint().String() {
		t.Fatalf("repair against the forged agent: %d %s; want 502 tls_pin_mismatch naming both fingerprints", status, raw)
	}
	var test struct {
		OK             bool   `json:"ok"`
		Message        string `json:"message"`
		TLSFingerprint string `json:"tls_fingerprint"`
	}
	status, raw = h.call("POST", nodePath+"/test", nil, &test)
	if status != http.StatusOK || test.OK || !strings.Contains(test.Message, "re-pin") || test.TLSFingerprint != forged.TLSFingerprint().String() {
		t.Fatalf("connection test against the forged agent: %d %s; want a failure saying re-pin and the presented fingerprint", status, raw)
	}
	if d, err := forged.Client(t).Dump(ctx, "wg0"); err != nil || len(d.Peers) != 0 {
		t.Fatalf("the forged agent got %d peers (%v); want nothing applied", len(d.Peers), err)
	}

	// A repin that expects another certificate pins nothing.
	status, raw = h.call("POST", nodePath+"/repin", map[string]any{"expect_tls_fingerprint": real.TLSFingerprint().String()}, nil)
	if status != http.StatusConflict {
		t.Fatalf("repin expecting the old certificate: %d %s, want 409", status, raw)
	}
	h.call("GET", nodePath, nil, &got)
	if got.TLSFingerprint != real.TLSFingerprint().String() {
		t.Fatalf("a refused repin changed the pin to %s", got.TLSFingerprint)
	}

	// The deliberate repin.
	var rep struct {
		Node     pinnedNodeJSON `json:"node"`
		Previous string         `json:"previous_tls_fingerprint"`
		Changed  bool           `json:"changed"`
	}
	status, raw = h.call("POST", nodePath+"/repin", map[string]any{"expect_tls_fingerprint": "sha256:" + forged.TLSFingerprint().String()}, &rep)
	if status != http.StatusOK || !rep.Changed || rep.Previous != real.TLSFingerprint().String() || rep.Node.TLSFingerprint != forged.TLSFingerprint().String() {
		t.Fatalf("repin: %d %s", status, raw)
	}
	entries, err := h.ctrl.Store().ListAudit(ctx, store.AuditFilter{TargetType: "node", TargetID: fmt.Sprint(n.ID)})
	if err != nil {
		t.Fatal(err)
	}
	audited := false
	for _, e := range entries {
		if e.Action == "node.repin" && strings.Contains(string(e.Details), forged.TLSFingerprint().String()) &&
			strings.Contains(string(e.Details), real.TLSFingerprint().String()) {
			audited = true
		}
	}
	if !audited {
		t.Fatalf("no node.repin audit entry naming both fingerprints in %+v", entries)
	}
	nodeIs("the re-pinned node online", "online")
	eventually(t, 15*time.Second, "both peers pushed to the re-pinned agent", func() bool {
		return agentHasPeer(t, forged, p1.PublicKey, p1.AllowedIPs[0]) && agentHasPeer(t, forged, p2.PublicKey, p2.AllowedIPs[0])
	})

	// The agent restarts with its state dir: same certificate, still pinned.
	if err := forged.Stop(); err != nil {
		t.Fatal(err)
	}
	h.call("GET", nodePath, nil, &got)
	restarted := agenttest.Start(t, agenttest.Options{Iface: "wg0", Addr: forged.Addr, Secret: forged.Secret, StateDir: forged.StateDir, TLS: tlsAuto})
	if restarted.TLSFingerprint() != forged.TLSFingerprint() {
		t.Fatalf("fingerprint after restart %v, want %v", restarted.TLSFingerprint(), forged.TLSFingerprint())
	}
	var p3 peerJSON
	if status, raw := h.call("POST", nodePath+"/peers", map[string]any{"name": "after-restart"}, &p3); status != http.StatusCreated {
		t.Fatalf("create peer after the restart: %d %s", status, raw)
	}
	eventually(t, 15*time.Second, "the peer on the restarted agent", func() bool { return agentHasPeer(t, restarted, p3.PublicKey, p3.AllowedIPs[0]) })
	nodeIs("the node online after the agent's restart", "online")
}

// TestPinValidation: a pin needs an https agent URL, and must be a
// SHA-256 fingerprint; "" unpins; a repin of an http node is refused.
func TestPinValidation(t *testing.T) {
	plain := agenttest.Start(t, agenttest.Options{})
	h := startControllerPolling(t, "", time.Hour)
	fp := agentapi.FingerprintOf([]byte("some certificate")).String()
	base := map[string]any{"name": "pin-check", "agent_url": plain.URL, "secret": plain.Secret, "ip_pool_cidr": "10.93.0.0/24",
		"endpoint": "pin-check.example.net:51820"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tt := range []struct {
		name string
		body map[string]any
	}{
		{"pin on http", with(map[string]any{"tls_fingerprint": fp})},
		{"not a fingerprint", with(map[string]any{"agent_url": "https://127.0.0.1:1", "tls_fingerprint": "abc"})},
	} {
		status, raw := h.call("POST", "/api/nodes", tt.body, nil)
		if status != http.StatusBadRequest || !strings.Contains(string(raw), `"field":"tls_fingerprint"`) {
			t.Errorf("%s: %d %s, want 400 naming tls_fingerprint", tt.name, status, raw)
		}
	}
	var n pinnedNodeJSON
	if status, raw := h.call("POST", "/api/nodes", with(map[string]any{"agent_url": "https://127.0.0.1:1", "tls_fingerprint": fp}), &n); status != http.StatusCreated {
		t.Fatalf("pinned https node: %d %s", status, raw)
	}
	path := fmt.Sprintf("/api/nodes/%d", n.ID)
	if status, raw := h.call("PUT", path, map[string]any{"agent_url": plain.URL}, nil); status != http.StatusBadRequest {
		t.Fatalf("to http keeping the pin: %d %s, want 400", status, raw)
	}
	if status, raw := h.call("PUT", path, map[string]any{"agent_url": plain.URL, "tls_fingerprint": ""}, &n); status != http.StatusOK || n.TLSFingerprint != "" {
		t.Fatalf("to http, unpinned: %d %s", status, raw)
	}
	if status, raw := h.call("POST", path+"/repin", nil, nil); status != http.StatusBadRequest || !strings.Contains(string(raw), "https") {
		t.Fatalf("repin of an http node: %d %s, want 400 saying https", status, raw)
	}
}
