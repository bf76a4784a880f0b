package controller_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// seedAgent emulates an agent of the seed design, written from the seed
// contract only (docs/AGENT_API.md without what it marks **extension**): it
// verifies HMAC over the raw request target with no nonce, serves only the
// bare seed endpoints (no /v1, no capabilities), takes everything after
// /peers/ as the key, and keeps its peers in memory. It records what the
// controller sent so the test can hold the controller to the seed contract.
type seedAgent struct {
	t      *testing.T
	secret string
	iface  string

	mu       sync.Mutex
	peers    map[string][]string // public key -> allowed IPs
	requests []string            // "METHOD PATH"
	nonces   int
}

func (s *seedAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, sig := r.Header.Get("X-Timestamp"), r.Header.Get("X-Signature")
	mac := hmac.New(sha256.New, []byte(s.secret))
	fmt.Fprintf(mac, "%s|%s|%s|%s", r.Method, r.RequestURI, body, ts)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.RequestURI)
	if r.Header.Get("X-Nonce") != "" {
		s.nonces++
	}
	if ts == "" || !hmac.Equal([]byte(sig), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error": "Invalid signature"}`)
		return
	}
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	prefix := "/wg/" + s.iface
	switch {
	case r.Method == "GET" && r.RequestURI == "/health":
		reply(200, map[string]any{"status": "ok", "timestamp": time.Now().Unix(), "uptime": 1, "version": "1.0.0"})
	case r.Method == "GET" && r.RequestURI == prefix+"/dump":
		peers := []map[string]any{}
		for k, ips := range s.peers {
			peers = append(peers, map[string]any{"public_key": k, "preshared_key": nil, "endpoint": nil, "allowed_ips": ips,
				"latest_handshake": nil, "transfer_rx": 0, "transfer_tx": 0, "persistent_keepalive": 0})
		}
		reply(200, map[string]any{"interface": s.iface, "peers": peers})
	case r.Method == "POST" && r.RequestURI == prefix+"/peers":
		var in struct {
			PublicKey  string   `json:"public_key"`
			AllowedIPs []string `json:"allowed_ips"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.PublicKey == "" {
			reply(400, map[string]string{"error": "bad request"})
			return
		}
		s.peers[in.PublicKey] = in.AllowedIPs
		reply(200, map[string]any{"status": "success", "message": "Peer added successfully",
			"peer": map[string]any{"public_key": in.PublicKey, "allowed_ips": in.AllowedIPs}})
	case strings.HasPrefix(r.RequestURI, prefix+"/peers/"):
		key := strings.TrimPrefix(r.RequestURI, prefix+"/peers/")
		if _, ok := s.peers[key]; !ok {
			reply(404, map[string]string{"error": "Peer not found"})
			return
		}
		switch r.Method {
		case "DELETE":
			delete(s.peers, key)
			reply(200, map[string]string{"status": "success", "message": "Peer removed successfully"})
		case "PUT":
			var in struct {
				AllowedIPs *[]string `json:"allowed_ips"`
			}
			_ = json.Unmarshal(body, &in)
			if in.AllowedIPs != nil {
				s.peers[key] = *in.AllowedIPs
			}
			reply(200, map[string]string{"status": "success", "message": "Peer updated successfully"})
		default:
			reply(405, map[string]string{"error": "method not allowed"})
		}
	default:
		reply(404, map[string]string{"error": "Not found"})
	}
}

func (s *seedAgent) snapshot() (peers map[string][]string, requests []string, nonces int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	peers = map[string][]string{}
	for k, v := range s.peers {
		peers[k] = v
	}
	return peers, append([]string(nil), s.requests...), s.nonces
}

// TestControllerDrivesSeedAgent: our controller manages an agent of the
// seed design through the seed endpoints alone: peers are created and
// removed (keys with '/' in the path included), drift is repaired, no
// extension (/v1, nonce) is ever sent to it, and it is reported online.
func TestControllerDrivesSeedAgent(t *testing.T) {
	seed := &seedAgent{t: t, secret: "seed-agent-shared-secret", iface: "wg0", peers: map[string][]string{}}
	srv := httptest.NewServer(seed)
	defer srv.Close()
	h := startController(t, "")
	var n nodeJSON
	if status, raw := h.call("POST", "/api/nodes", map[string]any{
		"name": "seed-node", "agent_url": srv.URL, "secret": seed.secret, "endpoint": "203.0.113.7:51820",
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
		peers, _, _ := seed.snapshot()
		return len(peers) == 12
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
	seed.mu.Lock()
	seed.peers[stranger] = []string{"10.90.0.250/32"}
	seed.mu.Unlock()
	eventually(t, 20*time.Second, "the seed agent to converge", func() bool {
		peers, _, _ := seed.snapshot()
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
	_, requests, nonces := seed.snapshot()
	if nonces != 0 {
		t.Errorf("the controller sent X-Nonce %d times to an agent that never advertised it", nonces)
	}
	for _, r := range requests {
		if strings.Contains(r, " /v1/") {
			t.Errorf("the controller called an extension on a seed agent: %s", r)
		}
	}
}
