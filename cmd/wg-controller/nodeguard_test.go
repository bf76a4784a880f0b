package main

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/controller/fleet"
)

// TestNodeAddGuardRails: `node add` without --endpoint, for an agent on
// the controller's machine, gets the host of the controller's public URL
// and the agent's listen port, says so, and `node show` shows it; without
// a public URL it is refused (exit 2) saying why and what to give. A pool
// overlapping another node's is a conflict (exit 4) unless
// --allow-overlap.
func TestNodeAddGuardRails(t *testing.T) {
	f, _ := newFleetCLIWith(t, controllertest.Options{PollInterval: time.Second, PublicURL: "https://vpn.cli-guard.example"})
	a := agenttest.Start(t, agenttest.Options{Addresses: []netip.Prefix{netip.MustParsePrefix("10.154.0.1/24")}})
	want := "vpn.cli-guard.example:" + strconv.Itoa(a.Tunnel("wg0").ListenPort())

	r := f.run("node", "add", "--name", "guard-a", "--agent-url", a.URL, "--secret", a.Secret, "--pool", "10.154.0.0/24")
	if r.code != 0 || !regexpMatch(`ENDPOINT\s+`+strings.ReplaceAll(want, ".", `\.`), r.stdout) ||
		!strings.Contains(r.stderr, "its endpoint "+want+" was derived from the agent's address and listen port") {
		t.Fatalf("node add without --endpoint: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var n fleet.NodeView
	f.okJSON(&n, "node", "show", "guard-a")
	if n.Endpoint != want {
		t.Fatalf("node show: endpoint %q, want %q", n.Endpoint, want)
	}

	f.fails(exitConflict, "ip_pool_cidr: 10.154.0.128/25 overlaps the pool 10.154.0.0/24 of node guard-a",
		"node", "add", "--name", "guard-b", "--agent-url", a.URL, "--secret", a.Secret, "--pool", "10.154.0.128/25", "--endpoint", "b.example.net:51820")
	f.okJSON(&n, "node", "add", "--name", "guard-b", "--agent-url", a.URL, "--secret", a.Secret, "--pool", "10.154.0.128/25",
		"--endpoint", "b.example.net:51820", "--allow-overlap")
	if n.Endpoint != "b.example.net:51820" || n.EndpointDerived {
		t.Fatalf("node add --endpoint --allow-overlap: %+v", n)
	}

	plain, _ := newFleetCLI(t)
	plain.fails(exitUsage, "endpoint: is required, and cannot be derived: the agent's host 127.0.0.1 is this machine's own address",
		"node", "add", "--name", "guard-c", "--agent-url", a.URL, "--secret", a.Secret, "--pool", "10.155.0.0/24")
}
