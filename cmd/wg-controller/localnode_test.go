package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
	"github.com/wgfleet/wgfleet/tunnel"
)

// TestServeLocalNode runs `serve --local-node` (netstack, so no host
// interface is touched): the local node registers itself and comes online,
// a peer made with the CLI reaches the local agent's dump and carries real
// traffic, and a restart on the same data directory keeps the node, its
// key and the peer (the client's config is byte for byte the same); another
// node joins beside it, and a peer moves off it.
func TestServeLocalNode(t *testing.T) {
	dir := t.TempDir()
	f, getenv, addr := localNodeCLI(t, dir)
	udpPort := freeUDPPort(t)
	args := []string{"serve", "--listen", addr, "--data-dir", dir, "--log-level", "error", "--local-node", "--local-node-mode", "netstack",
		"--local-node-name", "single", "--local-node-interface", "wgloc0", "--local-node-port", strconv.Itoa(udpPort)}

	stop := serveInBackground(t, args, getenv)
	n := waitLocalNode(t, f)
	if n.Name != "single" || n.WGInterface != "wgloc0" || !strings.HasSuffix(n.Endpoint, ":"+strconv.Itoa(udpPort)) {
		t.Fatalf("local node: %+v", n)
	}
	pool := netip.MustParsePrefix(n.IPPool)
	if !netip.MustParsePrefix("10.128.0.0/9").Contains(pool.Addr()) {
		t.Fatalf("local node pool %s is not carved from the default supernet", pool)
	}
	var p fleet.PeerView
	f.okJSON(&p, "peer", "add", "--node", "single", "--name", "phone")
	waitApplied(t, f, "phone")
	if !localAgentHas(t, dir, n, p.PublicKey) {
		t.Fatal("the peer is not in the local agent's dump")
	}
	conf := f.ok("peer", "config", "phone")
	pingThrough(t, conf, n, udpPort)
	// More nodes can join: a second, ordinary node beside the local one.
	secret := strings.Repeat("j", 32)
	f.ok("node", "add", "--name", "other", "--agent-url", "http://127.0.0.1:1", "--secret", secret, "--pool", "10.200.0.0/24",
		"--endpoint", "other.example.net:51820")
	stop()

	stop = serveInBackground(t, args, getenv)
	defer stop()
	again := waitLocalNode(t, f)
	if again.ID != n.ID || again.IPPool != n.IPPool || again.Endpoint != n.Endpoint {
		t.Fatalf("after a restart the local node is %+v, was %+v", again, n)
	}
	var nodes []fleet.NodeView
	f.okJSON(&nodes, "node", "list")
	if len(nodes) != 2 {
		t.Fatalf("after a restart: %d nodes, want the local one and the other", len(nodes))
	}
	waitApplied(t, f, "phone")
	if got := f.ok("peer", "config", "phone"); got != conf {
		t.Fatalf("the client config changed across the restart:\n%s\nwas\n%s", got, conf)
	}
	if !localAgentHas(t, dir, again, p.PublicKey) {
		t.Fatal("the peer is not in the local agent's dump after a restart")
	}
	pingThrough(t, conf, again, udpPort)

	// Like any node, it gives its peers up to a move.
	f.ok("peer", "move", "phone", "--to", "other")
	deadline := time.Now().Add(30 * time.Second)
	for localAgentHas(t, dir, again, p.PublicKey) {
		if time.Now().After(deadline) {
			t.Fatal("the moved peer stayed on the local agent")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeUDPPort is a UDP port nothing listens on right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// waitLocalNode waits for the one node with a loopback agent to be online.
func waitLocalNode(t *testing.T, f *fleetCLI) fleet.NodeView {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := f.run("node", "show", "single", "--json")
		var n fleet.NodeView
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &n) == nil && n.Status == "online" {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("the local node never came online: exit %d %s %s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serveInBackground runs `wg-controller args` until stop, which waits for
// it to end (failing the test if it does not within 30 s or ends in an
// error); calling stop again does nothing.
func serveInBackground(t *testing.T, args []string, getenv func(string) string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, getenv, io.Discard, io.Discard) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", strings.Join(args[:1], " "), err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s did not stop", strings.Join(args[:1], " "))
			}
		})
	}
}

// localNodeCLI makes an API token in dir (the controller's data directory,
// before it serves) and a CLI that uses it against the controller that
// will listen on addr; getenv is serve's environment.
func localNodeCLI(t *testing.T, dir string) (f *fleetCLI, getenv func(string) string, addr string) {
	t.Helper()
	env := map[string]string{"WG_CONTROLLER_ADMIN_PASSWORD": "a-long-enough-password"}
	getenv = func(k string) string { return env[k] }
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"token", "create", "--name", "local", "--data-dir", dir}, getenv, &out, &errOut); err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut.String())
	}
	addr = freeAddr(t)
	token := strings.TrimSpace(out.String())
	f = &fleetCLI{t: t, token: token, env: map[string]string{"WG_CONTROLLER_URL": "http://" + addr, "WG_CONTROLLER_TOKEN": token}}
	return f, getenv, addr
}

// localAgent is a client of the local node's agent, with the secret serve
// keeps in the data directory.
func localAgent(t *testing.T, dir string, n fleet.NodeView) *agentapi.Client {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, localNodeDir, localNodeFile))
	if err != nil {
		t.Fatal(err)
	}
	var st localNodeState
	if err := json.Unmarshal(raw, &st); err != nil || st.NodeID != n.ID {
		t.Fatalf("local node state %s: %v", raw, err)
	}
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: n.AgentURL, Secret: []byte(st.Secret)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// localAgentHas asks the local node's agent, with the secret serve keeps
// in the data directory, whether its dump holds the public key.
func localAgentHas(t *testing.T, dir string, n fleet.NodeView, pub string) bool {
	t.Helper()
	d, err := localAgent(t, dir, n).Dump(context.Background(), n.WGInterface)
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

// pingThrough brings up the client's side of conf in a netstack of its own
// and pings the local node's interface address through the tunnel: an
// answer is real WireGuard traffic both ways.
func pingThrough(t *testing.T, conf string, n fleet.NodeView, port int) {
	t.Helper()
	c, err := wgconfig.Parse([]byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	client, err := tunnel.NewNetstack(tunnel.Config{Name: "client0", PrivateKey: c.PrivateKey, Addresses: c.Addresses})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	pool := netip.MustParsePrefix(n.IPPool)
	if err := client.Configure([]wgtypes.PeerConfig{{PublicKey: c.ServerPublicKey,
		Endpoint:   &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port},
		AllowedIPs: []net.IPNet{{IP: pool.Addr().AsSlice(), Mask: net.CIDRMask(pool.Bits(), 32)}}}}); err != nil {
		t.Fatal(err)
	}
	target := pool.Addr().Next() // the interface address, x.x.x.1
	sock, err := client.Net().Dial("ping4", target.String())
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	deadline := time.Now().Add(30 * time.Second)
	for seq := 1; ; seq++ {
		msg, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: rand.IntN(1 << 16), Seq: seq, Data: []byte("local node")}}).Marshal(nil)
		if _, err := sock.Write(msg); err != nil {
			t.Fatal(err)
		}
		_ = sock.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 1500)
		if k, err := sock.Read(buf); err == nil {
			if reply, err := icmp.ParseMessage(1, buf[:k]); err == nil && reply.Type == ipv4.ICMPTypeEchoReply {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ping answer from %s through the local node", target)
		}
	}
}
