package controller_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// TestRotateSecretOverPinnedTLS: the two halves of issue 12 together. A
// real agent serving HTTPS with its own certificate (as an enrolled agent
// does) is pinned by the controller; its secret is rotated twice while
// workers keep the controller signing requests to it over the pinned
// connection: none fails, the pin is unchanged, and afterwards the agent
// refuses the first secret and takes the last, also after a restart.
func TestRotateSecretOverPinnedTLS(t *testing.T) {
	dir := t.TempDir()
	tlsAuto := agent.TLSConfig{Mode: agent.TLSAuto}
	a := agenttest.Start(t, agenttest.Options{Iface: "wg0", StateDir: dir, TLS: tlsAuto})
	first, pin := a.Secret, a.TLSFingerprint()
	h := startController(t, "")

	var n pinnedNodeJSON
	status, raw := h.call(http.MethodPost, "/api/nodes", map[string]any{
		"name": "rot-tls", "agent_url": a.URL, "secret": first, "wg_interface": "wg0",
		"endpoint": fmt.Sprintf("127.0.0.1:%d", a.Tunnel("wg0").ListenPort()), "ip_pool_cidr": "10.93.0.0/24",
		"tls_fingerprint": pin.String(), "enabled": true,
	}, &n)
	if status != http.StatusCreated {
		t.Fatalf("create pinned node: %d %s", status, raw)
	}

	tr := startTraffic(h, n.ID, 3, 3000)
	tr.waitCalls(t, 10)
	for i := range 2 {
		if status, res, raw := h.rotate(n.ID); status != http.StatusOK || res.Resumed || res.Node.SecretRotating {
			t.Fatalf("rotation %d over pinned TLS: %d %s", i+1, status, raw)
		}
		tr.waitCalls(t, 10)
	}
	tr.end(t)

	last := h.nodeSecrets(n.ID)
	if last.PrevSecret != nil || string(last.Secret) == first {
		t.Fatal("after the rotations the controller still holds the first secret")
	}
	if last.TLSFingerprint != pin {
		t.Errorf("the pin changed during the rotations: %s, want %s", last.TLSFingerprint, pin)
	}
	tc, err := agentapi.PinnedTLSConfig(pin)
	if err != nil {
		t.Fatal(err)
	}
	pinned := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	if got := rawSignedStatusVia(t, pinned, a.URL, first); got != http.StatusUnauthorized {
		t.Errorf("the first secret over TLS after the rotations: %d, want 401", got)
	}
	if got := rawSignedStatusVia(t, pinned, a.URL, string(last.Secret)); got != http.StatusOK {
		t.Errorf("the last secret over TLS: %d, want 200", got)
	}

	// Restarted with its first configuration, the agent keeps its
	// certificate (so the pin holds) and takes only the last secret.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	b := agenttest.Start(t, agenttest.Options{Iface: "wg0", StateDir: dir, Addr: a.Addr, Secret: first, TLS: tlsAuto})
	if b.TLSFingerprint() != pin {
		t.Fatalf("the restarted agent's certificate %s, want the pinned %s", b.TLSFingerprint(), pin)
	}
	if got := rawSignedStatusVia(t, pinned, b.URL, first); got != http.StatusUnauthorized {
		t.Errorf("the first secret after an agent restart: %d, want 401", got)
	}
	if msg := h.testNodeFails(n.ID); msg != "" {
		t.Errorf("the controller after an agent restart: %s", msg)
	}
}
