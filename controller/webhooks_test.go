package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/webhook"
)

// hookReceiver is a real HTTP endpoint that keeps every event whose
// signature verifies, and counts those that do not.
type hookReceiver struct {
	srv    *httptest.Server
	secret string

	mu       sync.Mutex
	got      []events.Event
	unsigned int
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	r := &hookReceiver{secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		var e events.Event
		if !webhook.Verify([]byte(r.secret), body, req.Header.Get(webhook.SignatureHeader)) || json.Unmarshal(body, &e) != nil ||
			string(e.Type) != req.Header.Get(webhook.EventHeader) {
			r.unsigned++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.got = append(r.got, e)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// count is how many events of type t arrived (about node nodeID, when not 0).
func (r *hookReceiver) count(t events.Type, nodeID int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.got {
		if e.Type == t && (nodeID == 0 || (e.Node != nil && e.Node.ID == nodeID)) {
			n++
		}
	}
	return n
}

// TestWebhookNodeOfflineAndBack: a webhook receiver (a real HTTP server
// checking every signature) hears a REAL agent stopped and started again
// as exactly one node.offline and one node.online, however many polls
// see it down; peer.created and peer.deleted for a peer made and deleted
// through the API; node.drift for a peer added behind the controller's
// back; and the test button. The delivery log shows them delivered, and
// no answer shows the secret.
func TestWebhookNodeOfflineAndBack(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	h := startController(t, "")
	const secret = "the receiver's shared secret"
	recv := newHookReceiver(t, secret)
	var hook webhook.View
	if status, raw := h.call("POST", "/api/webhooks", map[string]any{
		"url": recv.srv.URL + "/wgfleet", "secret": secret,
		"events": []string{"node.offline", "node.online", "node.drift", "peer.created", "peer.deleted"},
	}, &hook); status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", status, raw)
	}
	n := h.addNode("edge-hook", a, "10.93.0.0/24")
	nodeStatus := func() string {
		var got nodeJSON
		h.call("GET", fmt.Sprintf("/api/nodes/%d", n.ID), nil, &got)
		return got.Status
	}
	eventually(t, 30*time.Second, "the node online", func() bool { return nodeStatus() == "online" })

	var p peerJSON
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": "laptop"}, &p); status != http.StatusCreated {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	if status, raw := h.call("DELETE", fmt.Sprintf("/api/peers/%d", p.ID), nil, nil); status != http.StatusOK {
		t.Fatalf("delete peer: %d %s", status, raw)
	}
	eventually(t, 30*time.Second, "peer.created and peer.deleted", func() bool {
		return recv.count(events.PeerCreated, n.ID) == 1 && recv.count(events.PeerDeleted, n.ID) == 1
	})

	t.Log("drift: a peer added on the agent behind the controller's back")
	if _, err := a.Client(t).AddPeer(context.Background(), a.Iface, addReq(mustKeyString(t), "10.93.0.200/32")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "node.drift", func() bool { return recv.count(events.NodeDrift, n.ID) >= 1 })

	t.Log("the agent stops: one node.offline, however many polls fail")
	addr, agentSecret, stateDir := a.Addr, a.Secret, a.StateDir
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the node offline", func() bool { return nodeStatus() == "offline" })
	eventually(t, 30*time.Second, "node.offline", func() bool { return recv.count(events.NodeOffline, n.ID) == 1 })
	time.Sleep(3 * time.Second) // more failed polls (1 s interval, backoff 2 s)

	t.Log("the agent starts again: one node.online")
	b := agenttest.Start(t, agenttest.Options{Addr: addr, Secret: agentSecret, StateDir: stateDir})
	_ = b
	eventually(t, 60*time.Second, "the node online again", func() bool { return nodeStatus() == "online" })
	eventually(t, 30*time.Second, "node.online", func() bool { return recv.count(events.NodeOnline, n.ID) == 1 })
	time.Sleep(3 * time.Second) // more good polls
	if off, on := recv.count(events.NodeOffline, n.ID), recv.count(events.NodeOnline, n.ID); off != 1 || on != 1 {
		t.Errorf("the receiver got %d node.offline and %d node.online, want exactly 1 each", off, on)
	}

	// The test button, through the API.
	var tested webhook.DeliveryView
	if status, raw := h.call("POST", fmt.Sprintf("/api/webhooks/%d/test", hook.ID), nil, &tested); status != http.StatusOK || tested.State != "delivered" {
		t.Fatalf("test: %d %s", status, raw)
	}
	if recv.count(events.Test, 0) != 1 {
		t.Errorf("the receiver got %d test events, want 1", recv.count(events.Test, 0))
	}

	// The delivery log: every delivery delivered at the first attempt.
	var log []webhook.DeliveryView
	if status, raw := h.call("GET", fmt.Sprintf("/api/webhooks/%d/deliveries", hook.ID), nil, &log); status != http.StatusOK {
		t.Fatalf("deliveries: %d %s", status, raw)
	}
	kinds := map[string]int{}
	for _, d := range log {
		if d.State != "delivered" || d.Attempts != 1 || d.LastStatus != 200 {
			t.Errorf("delivery %d (%s): %s after %d attempts, status %d", d.ID, d.Event, d.State, d.Attempts, d.LastStatus)
		}
		kinds[d.Event]++
	}
	if kinds["node.offline"] != 1 || kinds["node.online"] != 1 || kinds["webhook.test"] != 1 {
		t.Errorf("delivery log kinds %v", kinds)
	}
	recv.mu.Lock()
	unsigned := recv.unsigned
	recv.mu.Unlock()
	if unsigned != 0 {
		t.Errorf("%d deliveries were not signed right", unsigned)
	}
	_, raw := h.call("GET", "/api/webhooks", nil, nil)
	if strings.Contains(string(raw), secret) || !strings.Contains(string(raw), `"secret_set":true`) {
		t.Errorf("the webhook list: %s", raw)
	}
}
