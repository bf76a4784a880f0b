package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/container"
)

func TestRestartRestoresPeers(t *testing.T) {
	dir := t.TempDir()
	a := agenttest.Start(t, agenttest.Options{StateDir: dir})
	c := a.Client(t)
	ctx := context.Background()
	pub := a.Tunnel("wg0").PublicKey()
	psk := mustKey(t).String()
	for i, ip := range []string{"10.99.0.2/32", "10.99.0.3/32", "10.99.0.4/32"} {
		req := agentapi.AddPeerRequest{PublicKey: mustKey(t).String(), AllowedIPs: []string{ip}}
		if i == 0 {
			req.PresharedKey = &psk
		}
		if _, err := c.AddPeer(ctx, "wg0", req); err != nil {
			t.Fatal(err)
		}
	}
	before := dumpOf(t, a)
	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}

	for _, name := range []string{"wg0.peers.snap", "wg0.peers.journal"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("state file %s: %v, mode %v", name, err, st.Mode())
		}
	}

	b := agenttest.Start(t, agenttest.Options{StateDir: dir, Secret: a.Secret})
	if got := b.Tunnel("wg0").PublicKey(); got != pub {
		t.Fatalf("public key changed across restart: %s -> %s", pub, got)
	}
	after := dumpOf(t, b)
	if len(after.Peers) != len(before.Peers) {
		t.Fatalf("after restart %d peers, before %d", len(after.Peers), len(before.Peers))
	}
	want := map[string]string{}
	for _, p := range before.Peers {
		want[p.PublicKey] = p.AllowedIPs[0]
	}
	for _, p := range after.Peers {
		if want[p.PublicKey] != p.AllowedIPs[0] {
			t.Errorf("peer %s came back with %v", p.PublicKey, p.AllowedIPs)
		}
	}
}

func TestCorruptStateRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wg0.peers.json"), []byte(`{"version":1,"interface":"wg0","peers":[{"public_`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := container.Environment{}
	_, err := agent.New(agent.Config{
		Listen: "127.0.0.1:0", Secrets: [][]byte{[]byte(agenttest.RandomSecret())}, StateDir: dir, Mode: "netstack",
		Interfaces: []agent.InterfaceConfig{{Name: "wg0"}}, Environment: &env,
	})
	if !errors.Is(err, agent.ErrCorruptState) {
		t.Fatalf("want ErrCorruptState, got %v", err)
	}
	// The corrupt file is left for the operator, not overwritten.
	data, _ := os.ReadFile(filepath.Join(dir, "wg0.peers.json"))
	if len(data) == 0 || data[len(data)-1] != '_' {
		t.Fatalf("corrupt state file was changed: %q", data)
	}
}
