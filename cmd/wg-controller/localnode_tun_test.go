package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestServeLocalNodeTUN runs `serve --local-node` in its default mode as
// root with /dev/net/tun: the in-process agent chooses TUN, so the
// interface appears on the host with the pool's first address, a peer made
// with the CLI carries real traffic (the host's kernel answers the ping on
// the TUN device), and stopping the controller removes the interface.
func TestServeLocalNodeTUN(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTUN(t)
	testenv.RequireCommand(t, "ip", "iproute2")
	dir := t.TempDir()
	f, getenv, addr := localNodeCLI(t, dir)
	udpPort := freeUDPPort(t)
	iface := testenv.UniqueName("wglt")
	// A supernet of its own, so the host route the TUN interface brings
	// cannot meet another test's addresses.
	supernet := fmt.Sprintf("10.%d.%d.0/24", 160+rand.IntN(60), rand.IntN(256))
	args := []string{"serve", "--listen", addr, "--data-dir", dir, "--log-level", "error", "--local-node",
		"--local-node-name", "single", "--local-node-interface", iface, "--local-node-port", strconv.Itoa(udpPort),
		"--pool-supernet", supernet, "--pool-prefix", "24"}

	stop := serveInBackground(t, args, getenv)
	defer stop()

	n := waitLocalNode(t, f)
	if n.IPPool != supernet {
		t.Fatalf("local node pool %s, want %s", n.IPPool, supernet)
	}
	if mode := localAgentMode(t, dir, n); mode != container.ModeTUN {
		t.Fatalf("the local agent chose %q as root with /dev/net/tun, want %q", mode, container.ModeTUN)
	}
	ifaceAddr := netip.MustParsePrefix(n.IPPool).Addr().Next()
	if link := testenv.Run(t, "ip", "-o", "addr", "show", "dev", iface); !strings.Contains(link, ifaceAddr.String()+"/") {
		t.Fatalf("host interface %s does not hold %s:\n%s", iface, ifaceAddr, link)
	}

	var p fleet.PeerView
	f.okJSON(&p, "peer", "add", "--node", "single", "--name", "laptop")
	waitApplied(t, f, "laptop")
	if !localAgentHas(t, dir, n, p.PublicKey) {
		t.Fatal("the peer is not in the local agent's dump")
	}
	pingThrough(t, f.ok("peer", "config", "laptop"), n, udpPort)

	stop()
	if err := exec.Command("ip", "link", "show", "dev", iface).Run(); err == nil {
		t.Fatalf("interface %s is still on the host after the controller stopped", iface)
	}
}

// localAgentMode is the data-plane mode the local node's agent reports for
// the node's interface in its signed /health.
func localAgentMode(t *testing.T, dir string, n fleet.NodeView) container.Mode {
	t.Helper()
	h, err := localAgent(t, dir, n).Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range h.Interfaces {
		if i.Name == n.WGInterface {
			return i.Mode
		}
	}
	t.Fatalf("the local agent's health has no interface %s: %+v", n.WGInterface, h.Interfaces)
	return ""
}
