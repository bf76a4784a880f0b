package agent_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agentapi/wgconf"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// The endpoints of the production agent's family (issue 11 item 3), on a
// real agent with signed requests.

func getJSON(t *testing.T, a *agenttest.Agent, path string, v any) {
	t.Helper()
	status, out := rawCall(t, a, "GET", path, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, out)
	}
}

func privateKeyOf(t *testing.T, a *agenttest.Agent) wgtypes.Key {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(a.StateDir, a.Iface+".key"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := wgtypes.ParseKey(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addPeer(t *testing.T, a *agenttest.Agent, req agentapi.AddPeerRequest) {
	t.Helper()
	if _, err := a.Client(t).AddPeer(context.Background(), a.Iface, req); err != nil {
		t.Fatal(err)
	}
}

func syncConf(t *testing.T, a *agenttest.Agent, config string) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(agentapi.SyncConfRequest{Config: base64.StdEncoding.EncodeToString([]byte(config))})
	return rawCall(t, a, "POST", "/v1/wg/wg0/syncconf", body)
}

func TestStatusEndpoint(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	server := a.Tunnel("wg0")
	// One peer that connects and sends, one that never does.
	clientKey, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: clientKey.PublicKey().String(), AllowedIPs: []string{"10.99.0.2/32"}})
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: mustKey(t).String(), AllowedIPs: []string{"10.99.0.3/32"}})
	client, err := tunnel.NewNetstack(tunnel.Config{
		Name: "client0", PrivateKey: clientKey, Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.2/32")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Configure([]wgtypes.PeerConfig{{
		PublicKey: server.PublicKey(), Endpoint: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: server.ListenPort()},
		AllowedIPs: []net.IPNet{{IP: net.IPv4(10, 99, 0, 0), Mask: net.CIDRMask(24, 32)}},
	}}); err != nil {
		t.Fatal(err)
	}
	ln, err := server.Net().ListenTCP(&net.TCPAddr{IP: net.IPv4(10, 99, 0, 1), Port: 9001})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := client.Net().DialContext(ctx, "tcp", "10.99.0.1:9001")
	if err != nil {
		t.Fatalf("dial through the tunnel: %v", err)
	}
	conn.Close()

	var st agentapi.Status
	getJSON(t, a, "/v1/status", &st)
	if st.Status != "ok" || st.Version == "" || st.Timestamp == 0 {
		t.Errorf("status header: %+v", st)
	}
	wg, ok := st.WireGuard.Interfaces["wg0"]
	if !ok {
		t.Fatalf("no wireguard.interfaces.wg0 in %+v", st.WireGuard)
	}
	if wg.Status != agentapi.InterfaceUp || wg.PeerCount != 2 || wg.ActivePeers != 1 {
		t.Errorf("wg0: status %q, peer_count %d, active_peers %d; want up, 2, 1", wg.Status, wg.PeerCount, wg.ActivePeers)
	}
	if wg.TotalRxBytes == 0 || wg.TotalTxBytes == 0 {
		t.Errorf("wg0: total_rx_bytes %d, total_tx_bytes %d; want traffic counted", wg.TotalRxBytes, wg.TotalTxBytes)
	}
	if wg.PublicKey != server.PublicKey().String() || wg.ListenPort != server.ListenPort() {
		t.Errorf("wg0: public key %q, port %d", wg.PublicKey, wg.ListenPort)
	}
	sys := st.System
	if sys.CPU == nil || sys.CPU.Count < 1 || sys.CPU.Percent < 0 || sys.CPU.Percent > 100 {
		t.Errorf("system.cpu: %+v", sys.CPU)
	}
	if sys.Memory == nil || sys.Memory.Total == 0 || sys.Memory.Used > sys.Memory.Total {
		t.Errorf("system.memory: %+v", sys.Memory)
	}
	if sys.Disk == nil || sys.Disk.Path != a.StateDir || sys.Disk.Total == 0 {
		t.Errorf("system.disk: %+v", sys.Disk)
	}
	if sys.Network == nil {
		t.Errorf("system.network is null")
	}
	// Raw JSON names, as a controller of that family reads them.
	_, out := rawCall(t, a, "GET", "/v1/status", nil)
	for _, name := range []string{`"wireguard":{"interfaces":{"wg0":{"status":"up"`, `"peer_count":2`, `"active_peers":1`, `"total_rx_bytes":`, `"total_tx_bytes":`, `"cpu":`, `"memory":`, `"disk":`, `"network":`} {
		if !bytes.Contains(out, []byte(name)) {
			t.Errorf("status body lacks %s: %s", name, out)
		}
	}
}

func TestProductionEndpointsAreSigned(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	for _, e := range []struct{ method, path string }{
		{"GET", "/v1/status"}, {"GET", "/v1/metrics"}, {"GET", "/v1/wg/wg0/config"},
		{"POST", "/v1/wg/wg0/syncconf"}, {"POST", "/v1/wg/wg0/enable"}, {"POST", "/v1/wg/wg0/disable"},
	} {
		req, _ := http.NewRequest(e.method, a.URL+e.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("unsigned %s %s: %d, want 401", e.method, e.path, resp.StatusCode)
		}
	}
	if status, _ := rawCall(t, a, "GET", "/v1/wg/nope/config", nil); status != http.StatusNotFound {
		t.Errorf("config of an unknown interface: %d, want 404", status)
	}
	if status, _ := rawCall(t, a, "GET", "/wg/wg0/config", nil); status != http.StatusNotFound {
		t.Errorf("bare /wg/wg0/config: %d, want 404 (the production endpoints are under /v1 only)", status)
	}
}

func TestMetricsEndpointIsTheAgentsRegistry(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{MetricsListen: "127.0.0.1:0"})
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: mustKey(t).String(), AllowedIPs: []string{"10.99.0.2/32"}})
	status, signed := rawCall(t, a, "GET", "/v1/metrics", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /v1/metrics: %d %s", status, signed)
	}
	open := scrape(t, a.MetricsURL)
	for _, series := range []string{`wgagent_interface_peers{iface="wg0",mode="netstack"} 1`, `wgagent_commits_total{iface="wg0"} 1`} {
		if !bytes.Contains(signed, []byte(series)) {
			t.Errorf("/v1/metrics lacks %s", series)
		}
		open.want(t, strings.Fields(series)[0], 1)
	}
	if !bytes.Contains(signed, []byte("go_goroutines")) || !bytes.Contains(signed, []byte("# TYPE wgagent_commits_total counter")) {
		t.Errorf("/v1/metrics is not the whole registry in Prometheus text")
	}
}

func TestConfigNeverHoldsSecrets(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	psk, err := wgtypes.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pskText := psk.String()
	k1, k2 := mustKey(t), mustKey(t)
	ka := 25
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: k1.String(), AllowedIPs: []string{"10.99.0.2/32", "fd00::2/128"}, PresharedKey: &pskText, PersistentKeepalive: &ka})
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: k2.String(), AllowedIPs: []string{"10.99.0.3/32"}})

	var c agentapi.Config
	getJSON(t, a, "/v1/wg/wg0/config", &c)
	if c.Status != "ok" || c.Interface != "wg0" {
		t.Errorf("config header: %+v", c)
	}
	priv := privateKeyOf(t, a)
	for name, secret := range map[string]string{
		"private key (base64)": priv.String(), "private key (hex)": fmt.Sprintf("%x", priv[:]),
		"preshared key (base64)": pskText, "preshared key (hex)": fmt.Sprintf("%x", psk[:]),
	} {
		if strings.Contains(c.Config, secret) {
			t.Fatalf("GET config holds the %s", name)
		}
	}
	if strings.Contains(strings.ToLower(c.Config), "privatekey =") {
		t.Errorf("config has a PrivateKey line:\n%s", c.Config)
	}
	doc, err := wgconf.Parse([]byte(c.Config), 1<<20)
	if err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, c.Config)
	}
	if len(doc.Sections) != 3 {
		t.Fatalf("config has %d sections, want [Interface] and 2 [Peer]:\n%s", len(doc.Sections), c.Config)
	}
	for _, want := range []string{
		fmt.Sprintf("ListenPort = %d\n", a.Tunnel("wg0").ListenPort()),
		"PublicKey = " + k1.String() + "\n# PresharedKey is set and not shown\nAllowedIPs = 10.99.0.2/32, fd00::2/128\nPersistentKeepalive = 25\n",
		"PublicKey = " + k2.String() + "\nAllowedIPs = 10.99.0.3/32\n",
	} {
		if !strings.Contains(c.Config, want) {
			t.Errorf("config lacks %q:\n%s", want, c.Config)
		}
	}
}

func TestSyncConf(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	keep, drop, add := mustKey(t), mustKey(t), mustKey(t)
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: keep.String(), AllowedIPs: []string{"10.99.0.2/32"}})
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: drop.String(), AllowedIPs: []string{"10.99.0.3/32"}})
	priv := privateKeyOf(t, a)
	port := a.Tunnel("wg0").ListenPort()
	psk := mustKey(t).String()

	config := fmt.Sprintf(`# the node's own key and port may be given: they change nothing
[Interface]
PrivateKey = %s
ListenPort = %d

[Peer]
PublicKey = %s
AllowedIPs = 10.99.0.2/32
AllowedIPs = fd00::2/128
PersistentKeepalive = off

[peer]
publickey = %s
PresharedKey = %s
AllowedIPs = 10.99.0.4/32, fd00::4/128
PersistentKeepalive = 15
`, priv, port, keep, add, psk)
	status, out := syncConf(t, a, config)
	if status != http.StatusOK {
		t.Fatalf("syncconf: %d %s", status, out)
	}
	var res agentapi.SyncResult
	if err := json.Unmarshal(out, &res); err != nil || res.Status != "success" || res.Added != 1 || res.Updated != 1 || res.Removed != 1 || res.Unchanged != 0 {
		t.Fatalf("syncconf answer %s, want success with 1 added, 1 updated, 1 removed", out)
	}
	got := map[string]agentapi.Peer{}
	for _, p := range dumpOf(t, a).Peers {
		got[p.PublicKey] = p
	}
	if len(got) != 2 {
		t.Fatalf("after syncconf %d peers, want 2", len(got))
	}
	if p := got[keep.String()]; strings.Join(p.AllowedIPs, " ") != "10.99.0.2/32 fd00::2/128" || p.PersistentKeepalive != 0 {
		t.Errorf("kept peer: %+v", p)
	}
	if p := got[add.String()]; strings.Join(p.AllowedIPs, " ") != "10.99.0.4/32 fd00::4/128" || p.PersistentKeepalive != 15 {
		t.Errorf("added peer: %+v", p)
	}
	if _, ok := got[drop.String()]; ok {
		t.Errorf("the peer left out of the config is still there")
	}
	// The preshared key reached the device.
	for _, p := range mustPeers(t, a) {
		if p.PublicKey == add && p.PresharedKey.String() != psk {
			t.Errorf("added peer's preshared key was not set")
		}
	}

	// GET config fed back is a no-op for peers without a preshared key.
	a2 := agenttest.Start(t, agenttest.Options{})
	addPeer(t, a2, agentapi.AddPeerRequest{PublicKey: mustKey(t).String(), AllowedIPs: []string{"10.99.0.2/32"}})
	var c agentapi.Config
	getJSON(t, a2, "/v1/wg/wg0/config", &c)
	status, out = syncConf(t, a2, c.Config)
	if status != http.StatusOK || !bytes.Contains(out, []byte(`"unchanged":1`)) || !bytes.Contains(out, []byte(`"added":0,"updated":0,"removed":0`)) {
		t.Fatalf("syncconf of GET config: %d %s, want nothing changed", status, out)
	}
}

func mustPeers(t *testing.T, a *agenttest.Agent) []wgtypes.Peer {
	t.Helper()
	ps, err := a.Tunnel("wg0").Peers()
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// A refused syncconf changes nothing: not the device, not the state file.
func TestSyncConfRefusedChangesNothing(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	k := mustKey(t)
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: k.String(), AllowedIPs: []string{"10.99.0.2/32"}})
	port := a.Tunnel("wg0").ListenPort()
	other, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	peer := "\n[Peer]\nPublicKey = " + mustKey(t).String() + "\nAllowedIPs = 10.99.0.9/32\n"
	tests := []struct {
		name, config, says string
	}{
		{"another private key", "[Interface]\nPrivateKey = " + other.String() + "\n" + peer, "private key"},
		{"another listen port", fmt.Sprintf("[Interface]\nListenPort = %d\n", port+1) + peer, "listen port"},
		{"a hook", "[Interface]\nPostUp = iptables -F\n" + peer, "runs commands"},
		{"a wg-quick key", "[Interface]\nAddress = 10.99.0.1/24\n" + peer, "wg-quick"},
		{"an endpoint", peer + "Endpoint = 192.0.2.1:51820\n", "Endpoint"},
		{"an unknown key", peer + "Foo = bar\n", "not a key of [Peer]"},
		{"a bad allowed IP", peer + "AllowedIPs = 10.99.0.5/24\n", "host bits"},
		{"overlapping peers", peer + "\n[Peer]\nPublicKey = " + mustKey(t).String() + "\nAllowedIPs = 10.99.0.8/29\n", "overlaps"},
		{"a peer twice", peer + peer, "twice"},
		{"no public key", "[Peer]\nAllowedIPs = 10.99.0.7/32\n", "no PublicKey"},
		{"the interface's own key as a peer", "[Peer]\nPublicKey = " + a.Tunnel("wg0").PublicKey().String() + "\n", "public_key refused"},
		{"a bad section", "[Peers]\n", "unknown section"},
		{"a control character", "[Peer]\x01\n", "control character"},
		{"a second interface", "[Interface]\n[Interface]\n", "second [Interface]"},
	}
	stateFiles := func(t *testing.T) []byte { // the snapshot and the journal
		var all []byte
		for _, name := range []string{"wg0.peers.snap", "wg0.peers.journal"} {
			data, err := os.ReadFile(filepath.Join(a.StateDir, name))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, data...)
		}
		return all
	}
	before := stateFiles(t)
	dumpBefore := dumpOf(t, a)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := syncConf(t, a, tt.config)
			want := http.StatusBadRequest
			if tt.says == "overlaps" { // as PUT /v1/wg/{iface}/peers answers it
				want = http.StatusConflict
			}
			if status != want {
				t.Fatalf("%d %s, want %d", status, out, want)
			}
			if msg := errorText(t, out); !strings.Contains(msg, tt.says) {
				t.Errorf("error %q does not say %q", msg, tt.says)
			}
			if after := stateFiles(t); !bytes.Equal(before, after) {
				t.Errorf("the state file changed")
			}
			d := dumpOf(t, a)
			if len(d.Peers) != 1 || d.Peers[0].PublicKey != dumpBefore.Peers[0].PublicKey ||
				strings.Join(d.Peers[0].AllowedIPs, ",") != strings.Join(dumpBefore.Peers[0].AllowedIPs, ",") {
				t.Errorf("the device changed: %+v", d.Peers)
			}
		})
	}
	for name, body := range map[string]string{
		"not base64":     `{"config": "[Interface]"}`,
		"no config":      `{}`,
		"config not str": `{"config": 1}`,
		"unknown field":  `{"config": "", "interface": "wg1"}`,
	} {
		if status, out := rawCall(t, a, "POST", "/v1/wg/wg0/syncconf", []byte(body)); status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, status, out)
		}
	}
	if d := dumpOf(t, a); len(d.Peers) != 1 {
		t.Errorf("after refused bodies %d peers, want 1", len(d.Peers))
	}
}

func TestEnableDisable(t *testing.T) {
	dir := t.TempDir()
	a := agenttest.Start(t, agenttest.Options{StateDir: dir})
	k := mustKey(t)
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: k.String(), AllowedIPs: []string{"10.99.0.2/32"}})

	state := func(a *agenttest.Agent) (health, status string) {
		t.Helper()
		h, err := a.Client(t).Health(context.Background())
		if err != nil || len(h.Interfaces) != 1 {
			t.Fatalf("health: %+v, %v", h, err)
		}
		var st agentapi.Status
		getJSON(t, a, "/v1/status", &st)
		return h.Interfaces[0].Status, st.WireGuard.Interfaces["wg0"].Status
	}
	post := func(a *agenttest.Agent, verb, wantState string) {
		t.Helper()
		status, out := rawCall(t, a, "POST", "/v1/wg/wg0/"+verb, nil)
		var res agentapi.InterfaceState
		if status != http.StatusOK || json.Unmarshal(out, &res) != nil || res.Status != "success" || res.State != wantState || res.Interface != "wg0" {
			t.Fatalf("POST %s: %d %s, want success and state %s", verb, status, out, wantState)
		}
	}
	if h, s := state(a); h != "up" || s != "up" {
		t.Fatalf("at start: health %q, status %q; want up", h, s)
	}
	post(a, "disable", "down")
	post(a, "disable", "down") // again: no change, no error
	if h, s := state(a); h != "down" || s != "down" {
		t.Fatalf("after disable: health %q, status %q; want down", h, s)
	}
	if d := dumpOf(t, a); len(d.Peers) != 1 || d.Peers[0].PublicKey != k.String() {
		t.Fatalf("disable lost the peers: %+v", d.Peers)
	}
	// Changes still apply while down.
	addPeer(t, a, agentapi.AddPeerRequest{PublicKey: mustKey(t).String(), AllowedIPs: []string{"10.99.0.3/32"}})

	a.Stop()
	b := agenttest.Start(t, agenttest.Options{StateDir: dir, Secret: a.Secret})
	if h, s := state(b); h != "down" || s != "down" {
		t.Fatalf("after restart: health %q, status %q; want still down", h, s)
	}
	if d := dumpOf(t, b); len(d.Peers) != 2 {
		t.Fatalf("after restart %d peers, want 2", len(d.Peers))
	}
	post(b, "enable", "up")
	if h, s := state(b); h != "up" || s != "up" {
		t.Fatalf("after enable: health %q, status %q; want up", h, s)
	}
	b.Stop()
	c := agenttest.Start(t, agenttest.Options{StateDir: dir, Secret: a.Secret})
	if h, _ := state(c); h != "up" {
		t.Fatalf("after enable and restart: %q, want up", h)
	}
}
