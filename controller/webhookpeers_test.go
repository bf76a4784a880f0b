package controller_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// peerEvents is the types of the events about peer id that arrived, in
// order, and the last one's node.
func (r *hookReceiver) peerEvents(id int64) ([]events.Type, *events.Node) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		types []events.Type
		node  *events.Node
	)
	for _, e := range r.got {
		if e.Peer != nil && e.Peer.ID == id {
			types = append(types, e.Type)
			node = e.Node
		}
	}
	return types, node
}

// TestWebhookPeerLifecycle: a webhook receiver (a real HTTP server that
// checks every signature) hears, with real agents: peer.expired when a
// peer's expiry passes (the controller's clock is advanced) and it leaves
// the agent; peer.over_limit and peer.deleted when a peer whose
// limit action is delete is driven over its limit by real WireGuard
// traffic and leaves the agent; and peer.deleted for each peer of a node
// deleted with force.
func TestWebhookPeerLifecycle(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	clock := testenv.NewClock(time.Now().UTC().Truncate(time.Second))
	h := startControllerWith(t, controllertest.Options{PollInterval: time.Second, LimitInterval: 200 * time.Millisecond, Now: clock.Now})
	const secret = "the peer receiver's shared secret"
	recv := newHookReceiver(t, secret)
	if status, raw := h.call("POST", "/api/webhooks", map[string]any{
		"url": recv.srv.URL + "/peers", "secret": secret,
		"events": []string{"peer.expired", "peer.over_limit", "peer.deleted"},
	}, nil); status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", status, raw)
	}
	n := h.addNode("edge-life", a, "10.94.0.0/24")

	var visitor lifePeer
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID),
		map[string]any{"name": "visitor", "expires_at": clock.Now().Add(time.Hour).Format(time.RFC3339)}, &visitor); status >= 300 {
		t.Fatalf("create visitor: %d %s", status, raw)
	}
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	const limit = 48 << 10
	var capped lifePeer
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{
		"name": "capped", "public_key": key.PublicKey().String(), "data_limit_bytes": limit, "limit_action": "delete",
	}, &capped); status >= 300 {
		t.Fatalf("create capped: %d %s", status, raw)
	}
	settled(t, h, a, visitor, "active", true)
	settled(t, h, a, capped, "active", true)

	t.Log("the visitor's expiry passes: peer.expired, and it leaves the agent")
	clock.Advance(time.Hour)
	settled(t, h, a, visitor, "expired", false)
	eventually(t, 30*time.Second, "peer.expired for the visitor", func() bool {
		types, _ := recv.peerEvents(visitor.ID)
		return slices.Contains(types, events.PeerExpired)
	})
	if types, node := recv.peerEvents(visitor.ID); !slices.Equal(types, []events.Type{events.PeerExpired}) || node == nil || node.Name != "edge-life" {
		t.Errorf("the visitor's events %v about node %+v, want one peer.expired about edge-life", types, node)
	}

	t.Log("real traffic drives capped over its limit: peer.over_limit, then peer.deleted")
	addr := mustAddr(t, capped.Address4)
	gone := func() bool {
		status, _ := h.call("GET", fmt.Sprintf("/api/peers/%d", capped.ID), nil, nil)
		return status == http.StatusNotFound
	}
	const chunk = 16 << 10
	for sent := 0; !gone(); sent += chunk {
		if sent >= 40*chunk {
			t.Fatalf("sent %d bytes each way and capped is still there", sent)
		}
		if err := a.Exchange(key, addr, chunk, 10*time.Second); err != nil {
			break // cut off mid-exchange: the events say why below
		}
	}
	eventually(t, 30*time.Second, "capped deleted by its limit", gone)
	eventually(t, 30*time.Second, "peer.over_limit and peer.deleted for capped", func() bool {
		types, _ := recv.peerEvents(capped.ID)
		return len(types) == 2
	})
	// Deliveries run side by side, so they may arrive in either order
	// (TestPeerDeletedByItsLimit holds the order they are published in).
	if types, _ := recv.peerEvents(capped.ID); !slices.Contains(types, events.PeerOverLimit) || !slices.Contains(types, events.PeerDeleted) {
		t.Errorf("capped's events %v, want peer.over_limit and peer.deleted", types)
	}
	eventually(t, 20*time.Second, "capped off the agent", func() bool { return !onAgent(t, a, capped.PublicKey) })

	t.Log("a node deleted with force: peer.deleted for each of its peers")
	b := agenttest.Start(t, agenttest.Options{})
	n2 := h.addNode("edge-doomed", b, "10.95.0.0/24")
	var doomed []int64
	for _, name := range []string{"d1", "d2"} {
		var p lifePeer
		if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n2.ID), map[string]any{"name": name}, &p); status >= 300 {
			t.Fatalf("create %s: %d %s", name, status, raw)
		}
		doomed = append(doomed, p.ID)
	}
	if status, raw := h.call("DELETE", fmt.Sprintf("/api/nodes/%d?force=true", n2.ID), nil, nil); status != http.StatusOK {
		t.Fatalf("force delete: %d %s", status, raw)
	}
	for _, id := range doomed {
		eventually(t, 30*time.Second, fmt.Sprintf("peer.deleted for peer %d", id), func() bool {
			types, node := recv.peerEvents(id)
			return slices.Equal(types, []events.Type{events.PeerDeleted}) && node != nil && node.ID == n2.ID && node.Name == "edge-doomed"
		})
	}
	recv.mu.Lock()
	unsigned := recv.unsigned
	recv.mu.Unlock()
	testenv.Equal(t, "deliveries whose signature did not verify", unsigned, 0)
}
