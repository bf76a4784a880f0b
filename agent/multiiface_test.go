package agent_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/container"
)

// TestSeveralInterfaces: one agent serves two interfaces, each with its own
// key, port and peers; a peer on one is not on the other.
func TestSeveralInterfaces(t *testing.T) {
	env := container.Environment{}
	secret := agenttest.RandomSecret()
	a, err := agent.New(agent.Config{
		Listen: "127.0.0.1:0", Secrets: [][]byte{[]byte(secret)}, StateDir: t.TempDir(), Mode: "auto", Environment: &env,
		Interfaces: []agent.InterfaceConfig{
			{Name: "wg0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.10.0.1/24")}},
			{Name: "wg1", Addresses: []netip.Prefix{netip.MustParsePrefix("10.11.0.1/24"), netip.MustParsePrefix("fd00:11::1/64")}, Mode: "netstack"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: srv.URL, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Interfaces) != 2 || h.Interfaces[0].Name != "wg0" || h.Interfaces[1].Name != "wg1" {
		t.Fatalf("health interfaces: %+v", h.Interfaces)
	}
	if h.Interfaces[0].PublicKey == h.Interfaces[1].PublicKey || h.Interfaces[0].ListenPort == h.Interfaces[1].ListenPort {
		t.Fatalf("interfaces share a key or port: %+v", h.Interfaces)
	}
	k := mustKey(t)
	if _, err := c.AddPeer(ctx, "wg1", agentapi.AddPeerRequest{PublicKey: k.String(), AllowedIPs: []string{"10.11.0.2/32", "fd00:11::2/128"}}); err != nil {
		t.Fatal(err)
	}
	// The same allowed IPs on the other interface do not conflict.
	if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: mustKey(t).String(), AllowedIPs: []string{"10.11.0.2/32"}}); err != nil {
		t.Fatalf("interfaces are not independent: %v", err)
	}
	if _, err := c.Peer(ctx, "wg0", k); !errors.Is(err, agentapi.ErrNotFound) {
		t.Fatalf("wg1's peer visible on wg0: %v", err)
	}
	info, err := c.Interface(ctx, "wg1")
	if err != nil || len(info.Addresses) != 2 || info.PeerCount != 1 {
		t.Fatalf("wg1 info: %+v %v", info, err)
	}
	if _, err := c.Dump(ctx, "wg2"); !errors.Is(err, agentapi.ErrNotFound) {
		t.Fatalf("unknown interface: %v", err)
	}
}
