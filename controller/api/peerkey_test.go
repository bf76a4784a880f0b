package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestPeerKeyNoPeerMayHold is issue 10 item 2 on the controller: a peer
// whose key is the all-zero key, a low-order point, or any node's
// interface key (as the node's agent reported it) is refused with 400 and
// a message that says why, on create, on edit and on move, and nothing is
// written.
func TestPeerKeyNoPeerMayHold(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a1 := agenttest.Start(t, agenttest.Options{})
	a2 := agenttest.Start(t, agenttest.Options{})
	n1 := createNode(t, c, "n1", a1, "10.60.0.0/24")
	n2 := createNode(t, c, "n2", a2, "10.61.0.0/24")
	key1 := recordHealth(t, e, n1.ID, a1)
	key2 := recordHealth(t, e, n2.ID, a2)
	lowOrder := wgtypes.Key{1} // the point 1, of order 1

	good := createPeer(t, c, n1.ID, map[string]any{"name": "good"})
	before := e.counts(t)
	onN1 := fmt.Sprintf("/api/nodes/%d/peers", n1.ID)
	goodPath := fmt.Sprintf("/api/peers/%d", good.ID)
	tests := []struct {
		name, method, path string
		key                string
		want               string // in the message
	}{
		{"create, all-zero key", "POST", onN1, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "all-zero"},
		{"create, low-order point", "POST", onN1, lowOrder.String(), "low-order"},
		{"create, the node's own key", "POST", onN1, key1.String(), "node n1's interface"},
		{"create, another node's key", "POST", onN1, key2.String(), "node n2's interface"},
		{"edit to a node's key", "PUT", goodPath, key2.String(), "node n2's interface"},
		{"edit to a low-order point", "PUT", goodPath, lowOrder.String(), "low-order"},
		{"edit to the all-zero key", "PUT", goodPath, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "all-zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(t, tt.method, tt.path, map[string]any{"name": "bad", "public_key": tt.key}).want(t, 400)
			if r.field() != "public_key" || !strings.Contains(r.msg(), tt.want) {
				t.Errorf("field %q message %q, want public_key and %q", r.field(), r.msg(), tt.want)
			}
		})
	}
	if got := e.counts(t); got != before {
		t.Errorf("refused requests wrote: %+v -> %+v", before, got)
	}

	// Move: a legacy row on n1 that holds n2's key (written past
	// validation) cannot move onto n2.
	legacy, err := e.st.CreatePeerWithAllocation(t.Context(), store.Peer{NodeID: n1.ID, Name: "legacy", PublicKey: key2, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	r := c.do(t, "POST", fmt.Sprintf("/api/peers/%d/move", legacy.ID), map[string]any{"node_id": n2.ID}).want(t, 400)
	if r.field() != "public_key" || !strings.Contains(r.msg(), "node n2's interface") {
		t.Errorf("move onto the node whose key it holds: field %q message %q", r.field(), r.msg())
	}
	var got fleet.PeerView
	c.do(t, "GET", fmt.Sprintf("/api/peers/%d", legacy.ID), nil).want(t, 200).decode(t, &got)
	if got.NodeID != n1.ID {
		t.Errorf("refused move left the peer on node %d", got.NodeID)
	}
	// A usable key still goes through.
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	createPeer(t, c, n1.ID, map[string]any{"name": "fine", "public_key": k.PublicKey().String()})
}

// recordHealth stores agent a's /health for node id as the poller does,
// and returns the interface key it reported.
func recordHealth(t testing.TB, e *env, id int64, a *agenttest.Agent) wgtypes.Key {
	t.Helper()
	h, err := a.Client(t).Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	k, ok := agentapi.InterfaceKey(h.Interfaces, a.Iface)
	if !ok {
		t.Fatalf("agent's /health has no key for %s", a.Iface)
	}
	doc, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.RecordNodeHealth(t.Context(), id, store.NodeOnline, doc, k, "", true); err != nil {
		t.Fatal(err)
	}
	return k
}
