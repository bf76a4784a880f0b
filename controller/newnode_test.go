package controller_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// TestNewNodePolledAtOnce: with a poll interval of an hour, a node just
// created is online (and its path family known) within seconds, so a peer
// placed with "node_id": "auto" finds it; disabled and enabled again, it
// is polled again at once (issue 11 item 7).
func TestNewNodePolledAtOnce(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	h := startControllerPolling(t, "", time.Hour)

	// The first cycle runs at start, before the node exists.
	time.Sleep(200 * time.Millisecond)
	n := h.addNode("edge-1", a, "10.97.0.0/24")
	type nodeState struct {
		Status   string `json:"status"`
		APIPaths string `json:"api_paths"`
	}
	var got nodeState
	eventually(t, 5*time.Second, "the new node online", func() bool {
		h.call("GET", fmt.Sprintf("/api/nodes/%d", n.ID), nil, &got)
		return got.Status == "online"
	})
	if got.APIPaths != "bare" {
		t.Errorf("api_paths %q after the first poll of our agent, want %q", got.APIPaths, "bare")
	}
	var p peerJSON
	if status, raw := h.call("POST", "/api/peers", map[string]any{"name": "auto-placed", "node_id": "auto"}, &p); status >= 300 {
		t.Fatalf(`POST /api/peers with "node_id": "auto" right after the node was created: %d %s`, status, raw)
	}

	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/toggle", n.ID), map[string]any{"enabled": false}, nil); status != http.StatusOK {
		t.Fatalf("disable: %d %s", status, raw)
	}
	h.call("GET", fmt.Sprintf("/api/nodes/%d", n.ID), nil, &got)
	if got.Status != "disabled" {
		t.Fatalf("status %q after disabling, want disabled", got.Status)
	}
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/toggle", n.ID), map[string]any{"enabled": true}, nil); status != http.StatusOK {
		t.Fatalf("enable: %d %s", status, raw)
	}
	eventually(t, 5*time.Second, "the enabled node online", func() bool {
		h.call("GET", fmt.Sprintf("/api/nodes/%d", n.ID), nil, &got)
		return got.Status == "online"
	})
}
