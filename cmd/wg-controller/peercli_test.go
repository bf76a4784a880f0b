package main

import (
	"bytes"
	"context"
	"image/png"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
)

// TestPeerCommands drives every peer subcommand against a real controller
// and two real agents: the peer reaches the agent's dump, carries real
// traffic with the config `peer config` wrote, moves, is restricted and
// allowed, and goes; with the exit codes of not found, conflict, invalid
// values and usage.
func TestPeerCommands(t *testing.T) {
	f, _ := newFleetCLI(t)
	a1 := agenttest.Start(t, agenttest.Options{Addresses: []netip.Prefix{netip.MustParsePrefix("10.161.0.1/24")}})
	a2 := agenttest.Start(t, agenttest.Options{Addresses: []netip.Prefix{netip.MustParsePrefix("10.162.0.1/24")}})
	for i, a := range []*agenttest.Agent{a1, a2} {
		n := strconv.Itoa(i + 1)
		f.ok("node", "add", "--name", "pcli-"+n, "--agent-url", a.URL, "--secret", a.Secret, "--pool", "10.16"+n+".0.0/24",
			"--endpoint", "127.0.0.1:"+strconv.Itoa(a.Tunnel("wg0").ListenPort()))
	}

	var p fleet.PeerView
	f.okJSON(&p, "peer", "add", "--node", "pcli-1", "--name", "laptop", "--keepalive", "25")
	if p.ID == 0 || p.Name != "laptop" || p.Address4 != "10.161.0.2" || !p.HasPrivateKey || p.HasPresharedKey || p.Keepalive != 25 {
		t.Fatalf("peer add: %+v", p)
	}
	laptop := strconv.FormatInt(p.ID, 10)
	waitApplied(t, f, "laptop")
	if !agentHas(t, a1, p.PublicKey) {
		t.Fatal("the new peer is not in the agent's dump")
	}

	// config: stdout and a 0600 file, the same wg-quick file, that carries
	// real traffic through the agent.
	conf := f.ok("peer", "config", "laptop")
	if !strings.Contains(conf, "[Interface]") || !strings.Contains(conf, "PrivateKey = ") || !strings.Contains(conf, "PersistentKeepalive = 25") {
		t.Fatalf("peer config:\n%s", conf)
	}
	dir := t.TempDir()
	confFile := filepath.Join(dir, "wg0.conf")
	f.ok("peer", "config", laptop, "--out", confFile)
	if b, err := os.ReadFile(confFile); err != nil || string(b) != conf {
		t.Fatalf("peer config --out wrote %q, %v", b, err)
	}
	if st, _ := os.Stat(confFile); st.Mode().Perm() != 0o600 {
		t.Errorf("config file mode %v, want 0600", st.Mode().Perm())
	}
	client, err := wgconfig.Parse([]byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	if err := a1.Exchange(client.PrivateKey, netip.MustParseAddr(p.Address4), 32<<10, 30*time.Second); err != nil {
		t.Fatalf("traffic with the config peer config wrote: %v", err)
	}

	// qr: in the terminal, the code of that config; --out, a PNG.
	text := f.ok("peer", "qr", "laptop")
	if want, _ := wgconfig.QRText([]byte(conf), false); text != want {
		t.Fatalf("peer qr drew another code:\n%s", text)
	}
	if want, _ := wgconfig.QRText([]byte(conf), true); f.ok("peer", "qr", "laptop", "--invert") != want || want == text {
		t.Error("peer qr --invert did not draw the inverted code")
	}
	qrFile := filepath.Join(dir, "laptop.png")
	f.ok("peer", "qr", "laptop", "--out", qrFile)
	if b, err := os.ReadFile(qrFile); err != nil {
		t.Fatal(err)
	} else if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("peer qr --out wrote no PNG: %v", err)
	}

	// More peers, to list, search and page.
	var phone fleet.PeerView
	f.okJSON(&phone, "peer", "add", "--node", "pcli-2", "--name", "phone-0", "--preshared-key", "auto", "--allowed-ips", "10.0.0.0/8",
		"--allowed-ips", "192.168.1.0/24")
	if !phone.HasPresharedKey || strings.Join(phone.ClientAllowedIPs, ",") != "10.0.0.0/8,192.168.1.0/24" {
		t.Fatalf("peer add --preshared-key auto --allowed-ips: %+v", phone)
	}
	for i := range 3 {
		f.ok("peer", "add", "--node", "pcli-2", "--name", "phone-"+strconv.Itoa(i+1))
	}
	var peers []fleet.PeerView
	f.okJSON(&peers, "peer", "list")
	if len(peers) != 5 {
		t.Fatalf("peer list: %d peers, want 5", len(peers))
	}
	f.okJSON(&peers, "peer", "list", "--node", "pcli-2", "--limit", "3")
	if len(peers) != 3 || peers[0].Name != "phone-0" {
		t.Fatalf("peer list --node pcli-2 --limit 3: %+v", peers)
	}
	f.okJSON(&peers, "peer", "list", "--search", "lapt", "--status", "active")
	if len(peers) != 1 || peers[0].ID != p.ID {
		t.Fatalf("peer list --search lapt: %+v", peers)
	}
	table := f.ok("peer", "list", "--node", "pcli-1")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(lines[1], "laptop") || !strings.Contains(lines[1], "pcli-1") {
		t.Fatalf("peer list table:\n%s", table)
	}
	if out := f.ok("peer", "show", "laptop"); !regexpMatch(`NAME\s+laptop`, out) || !regexpMatch(`NODE\s+pcli-1`, out) {
		t.Fatalf("peer show:\n%s", out)
	}

	// edit: only what is given changes.
	f.okJSON(&p, "peer", "edit", "laptop", "--dns", "9.9.9.9", "--data-limit", "5GiB", "--expires", "720h", "--name", "laptop-2")
	if p.DNS != "9.9.9.9" || p.DataLimit == nil || *p.DataLimit != 5<<30 || p.ExpiresAt == nil ||
		p.ExpiresAt.Sub(time.Now().Add(720*time.Hour)).Abs() > time.Minute || p.Name != "laptop-2" || p.Keepalive != 25 {
		t.Fatalf("peer edit: %+v", p)
	}
	f.okJSON(&p, "peer", "edit", "laptop-2", "--expires", "never", "--data-limit", "none")
	if p.ExpiresAt != nil || p.DataLimit != nil {
		t.Fatalf("peer edit --expires never --data-limit none: %+v", p)
	}

	// restrict and allow: off the agent and back.
	f.okJSON(&p, "peer", "restrict", "laptop-2")
	if p.Status != "restricted" {
		t.Fatalf("peer restrict: %+v", p)
	}
	waitApplied(t, f, "laptop-2")
	if agentHas(t, a1, p.PublicKey) {
		t.Fatal("a restricted peer is still on the agent")
	}
	f.okJSON(&p, "peer", "allow", laptop)
	if p.Status != "active" {
		t.Fatalf("peer allow: %+v", p)
	}

	// move: to the other node, and it is there.
	var moved fleet.MoveResult
	f.okJSON(&moved, "peer", "move", "laptop-2", "--to", "pcli-2")
	if moved.Peer.ID != p.ID || moved.ToNodeID != moved.Peer.NodeID || moved.Address4 != "10.162.0.6" {
		t.Fatalf("peer move: %+v", moved)
	}
	waitApplied(t, f, "laptop-2")
	if !agentHas(t, a2, p.PublicKey) || agentHas(t, a1, p.PublicKey) {
		t.Fatal("the moved peer is not on the new node's agent alone")
	}

	// Exit codes.
	f.fails(exitNotFound, "not found", "peer", "show", "99999")
	f.fails(exitNotFound, `no peer is named "ghost"`, "peer", "config", "ghost")
	f.fails(exitNotFound, `no node is named "ghost"`, "peer", "add", "--node", "ghost", "--name", "nowhere")
	f.fails(exitNotFound, "not found", "peer", "add", "--node", "99999", "--name", "x")
	f.fails(exitConflict, "in use", "peer", "add", "--node", "pcli-2", "--name", "taken", "--address", phone.Address4)
	f.fails(exitUsage, "expires", "peer", "add", "--node", "pcli-1", "--expires", "soon")
	f.fails(exitUsage, "limit_action", "peer", "edit", "laptop-2", "--limit-action", "explode")
	f.fails(exitUsage, "--node is required", "peer", "add", "--name", "x")
	f.fails(exitUsage, "--to is required", "peer", "move", "laptop-2")
	f.fails(exitUsage, "takes PEER", "peer", "rm")
	// A name several peers share is refused: the id is needed.
	f.ok("peer", "add", "--node", "pcli-1", "--name", "twin")
	f.ok("peer", "add", "--node", "pcli-2", "--name", "twin")
	f.fails(exitUsage, `2 peers are named "twin"`, "peer", "show", "twin")
	// A peer needs a name, one no other peer of its node has.
	f.fails(exitUsage, "--name is required", "peer", "add", "--node", "pcli-1")
	f.fails(exitConflict, "name: a peer named twin is already on node pcli-1", "peer", "add", "--node", "pcli-1", "--name", "TWIN")

	f.ok("peer", "rm", "laptop-2")
	f.fails(exitNotFound, "", "peer", "show", laptop)
	f.fails(exitNotFound, "", "peer", "rm", laptop)
	waitGone(t, a2, p.PublicKey)
}

// waitApplied waits until the agent confirmed the peer's last change.
func waitApplied(t *testing.T, f *fleetCLI, peer string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var p fleet.PeerView
		f.okJSON(&p, "peer", "show", peer)
		if p.SyncState == "applied" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer %s never applied: %+v", peer, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// agentHas reports whether the agent's dump holds the public key.
func agentHas(t *testing.T, a *agenttest.Agent, pub string) bool {
	t.Helper()
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Peers {
		if p.PublicKey == pub {
			return true
		}
	}
	return false
}

func waitGone(t *testing.T, a *agenttest.Agent, pub string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for agentHas(t, a, pub) {
		if time.Now().After(deadline) {
			t.Fatal("the deleted peer stayed on the agent")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
