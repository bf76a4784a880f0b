package controller_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
	"github.com/wgfleet/wgfleet/internal/version"
)

// harness is a running controller on loopback with an API token.
type harness struct {
	t       *testing.T
	url     string
	token   string
	dataDir string
	ctrl    *controller.Controller
	stop    func()
}

func startController(t *testing.T, dataDir string) *harness {
	t.Helper()
	return startControllerPolling(t, dataDir, time.Second)
}

// startControllerPolling is startController with a poll interval of its own.
func startControllerPolling(t *testing.T, dataDir string, interval time.Duration) *harness {
	t.Helper()
	return startControllerWith(t, controllertest.Options{DataDir: dataDir, PollInterval: interval})
}

// startControllerWith is startController shaped by o.
func startControllerWith(t *testing.T, o controllertest.Options) *harness {
	t.Helper()
	c := controllertest.StartWith(t, o)
	plain, _, err := c.Auth().CreateToken(context.Background(), "test", "e2e-"+agenttest.RandomSecret()[:8], 0)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, url: c.URL, token: plain, dataDir: c.DataDir, ctrl: c.Controller, stop: func() {
		if err := c.Stop(); err != nil {
			t.Errorf("controller stopped with %v", err)
		}
	}}
}

type envelope struct {
	Status  bool            `json:"status"`
	Message *string         `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// call sends an API request with the token and decodes the envelope's data
// into out (if not nil). It returns the HTTP status and the raw body.
func (h *harness) call(method, path string, in, out any) (int, []byte) {
	h.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		var env envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			h.t.Fatalf("%s %s: not an envelope: %s", method, path, raw)
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			h.t.Fatalf("%s %s: data: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, raw
}

type nodeJSON struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	Status            string `json:"status"`
	SecretSet         bool   `json:"secret_set"`
	DesiredGeneration int64  `json:"desired_generation"`
	AckedGeneration   int64  `json:"acked_generation"`
	AgentVersion      string `json:"agent_version"`
}

type peerJSON struct {
	ID         int64    `json:"id"`
	PublicKey  string   `json:"public_key"`
	Address4   string   `json:"address4"`
	AllowedIPs []string `json:"allowed_ips"`
	SyncState  string   `json:"sync_state"`
}

func (h *harness) addNode(name string, a *agenttest.Agent, pool string) nodeJSON {
	h.t.Helper()
	var n nodeJSON
	status, raw := h.call("POST", "/api/nodes", map[string]any{
		"name": name, "agent_url": a.URL, "secret": a.Secret, "wg_interface": a.Iface,
		"endpoint": "127.0.0.1:" + fmt.Sprint(a.Tunnel(a.Iface).ListenPort()), "ip_pool_cidr": pool, "enabled": true,
	}, &n)
	if status != http.StatusOK && status != http.StatusCreated {
		h.t.Fatalf("create node: %d %s", status, raw)
	}
	return n
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func agentHasPeer(t *testing.T, a *agenttest.Agent, pub, allowed string) bool {
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		return false
	}
	for _, p := range d.Peers {
		if p.PublicKey == pub {
			return len(p.AllowedIPs) == 1 && p.AllowedIPs[0] == allowed
		}
	}
	return false
}

// TestPeerReachesAgent: a peer created through the controller shows up in
// the agent's dump with its /32, and its config download is a valid
// wg-quick file that points at the node.
func TestPeerReachesAgent(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{Addresses: nil})
	h := startController(t, "")
	n := h.addNode("node-a", a, "10.99.0.0/24")
	if !n.SecretSet {
		t.Fatalf("node JSON: %+v", n)
	}
	var p peerJSON
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": "laptop"}, &p); status >= 300 {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	if p.Address4 != "10.99.0.2" || len(p.AllowedIPs) != 1 || p.AllowedIPs[0] != "10.99.0.2/32" {
		t.Fatalf("peer: %+v", p)
	}
	eventually(t, 15*time.Second, "the agent to have the peer", func() bool { return agentHasPeer(t, a, p.PublicKey, "10.99.0.2/32") })
	eventually(t, 15*time.Second, "sync_state applied", func() bool {
		var got peerJSON
		h.call("GET", fmt.Sprintf("/api/peers/%d", p.ID), nil, &got)
		return got.SyncState == "applied"
	})

	// The node JSON carries the version the agent reported in /health.
	eventually(t, 15*time.Second, "the node's agent version", func() bool {
		var got nodeJSON
		h.call("GET", fmt.Sprintf("/api/nodes/%d", n.ID), nil, &got)
		return got.AgentVersion == version.Get().Version
	})

	status, conf := h.call("GET", fmt.Sprintf("/api/peers/%d/config", p.ID), nil, nil)
	if status != http.StatusOK {
		t.Fatalf("config: %d %s", status, conf)
	}
	cc, err := wgconfig.Parse(conf)
	if err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, conf)
	}
	if cc.PrivateKey.PublicKey().String() != p.PublicKey || cc.ServerPublicKey != a.Tunnel(a.Iface).PublicKey() {
		t.Fatalf("config keys do not match the peer and the node:\n%s", conf)
	}
	if !strings.Contains(cc.Endpoint, fmt.Sprint(a.Tunnel(a.Iface).ListenPort())) {
		t.Fatalf("config endpoint %q", cc.Endpoint)
	}

	// Prometheus metrics: for token holders only, and they show the node.
	status, body := h.call("GET", "/metrics", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `wgfleet_node_peers{node="node-a"} 1`) {
		t.Fatalf("/metrics: %d\n%s", status, body)
	}
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without credentials: %d, want 401", resp.StatusCode)
	}
}

// TestAgentDownWhilePeersCreated: peers created while the agent is down are
// stored pending and reach the agent once it is back.
func TestAgentDownWhilePeersCreated(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	h := startController(t, "")
	n := h.addNode("node-b", a, "10.98.0.0/24")
	addr, secret, stateDir := a.Addr, a.Secret, a.StateDir
	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}

	var peers []peerJSON
	for i := 0; i < 3; i++ {
		var p peerJSON
		if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": fmt.Sprint("p", i)}, &p); status >= 300 {
			t.Fatalf("create peer while agent is down: %d %s", status, raw)
		}
		if p.SyncState != "pending" {
			t.Errorf("peer %d sync_state %q, want pending", i, p.SyncState)
		}
		peers = append(peers, p)
	}
	b := agenttest.Start(t, agenttest.Options{Addr: addr, Secret: secret, StateDir: stateDir})
	for _, p := range peers {
		eventually(t, 30*time.Second, "peer "+p.PublicKey+" on the restarted agent", func() bool {
			return agentHasPeer(t, b, p.PublicKey, p.AllowedIPs[0])
		})
	}
}

// TestNoSecretInDatabaseFile: after a realistic flow the raw database files
// hold neither the node secret nor any private or preshared key in clear.
func TestNoSecretInDatabaseFile(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	dir := t.TempDir()
	h := startController(t, dir)
	n := h.addNode("node-c", a, "10.97.0.0/24")
	var p peerJSON
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": "x", "preshared_key": "auto"}, &p); status >= 300 {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	_, conf := h.call("GET", fmt.Sprintf("/api/peers/%d/config", p.ID), nil, nil)
	cc, err := wgconfig.Parse(conf)
	if err != nil {
		t.Fatal(err)
	}
	h.stop() // closes the store: the WAL is checkpointed into the main file
	needles := map[string][]byte{"node secret": []byte(a.Secret), "private key": []byte(cc.PrivateKey.String())}
	raw := cc.PrivateKey[:]
	needles["private key bytes"] = raw
	if cc.PresharedKey == nil {
		t.Fatal("config has no preshared key")
	}
	needles["preshared key"] = []byte(cc.PresharedKey.String())
	needles["preshared key (url)"] = []byte(base64.RawURLEncoding.EncodeToString(cc.PresharedKey[:]))
	files, _ := filepath.Glob(filepath.Join(dir, controller.DBFile+"*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for what, needle := range needles {
			if bytes.Contains(data, needle) {
				t.Errorf("%s holds the %s in clear", filepath.Base(f), what)
			}
		}
	}
}
