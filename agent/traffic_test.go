package agent_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestNetstackTrafficThroughAPIPeers: a client tunnel on its own netstack
// reaches a TCP service inside the agent's netstack, after the agent was
// given the client as a peer through the signed HTTP API.
func TestNetstackTrafficThroughAPIPeers(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24")}})
	server := a.Tunnel("wg0")

	clientKey, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	client, err := tunnel.NewNetstack(tunnel.Config{
		Name: "client0", PrivateKey: clientKey,
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.2/32")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ka := 25
	if _, err := a.Client(t).AddPeer(ctx, "wg0", agentapi.AddPeerRequest{
		PublicKey: clientKey.PublicKey().String(), AllowedIPs: []string{"10.99.0.2/32"}, PersistentKeepalive: &ka,
	}); err != nil {
		t.Fatal(err)
	}
	ep := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: server.ListenPort()}
	if err := client.Configure([]wgtypes.PeerConfig{{
		PublicKey: server.PublicKey(), Endpoint: ep,
		AllowedIPs: []net.IPNet{{IP: net.IPv4(10, 99, 0, 0), Mask: net.CIDRMask(24, 32)}},
	}}); err != nil {
		t.Fatal(err)
	}

	ln, err := server.Net().ListenTCP(&net.TCPAddr{IP: net.IPv4(10, 99, 0, 1), Port: 9000})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go testenv.ServeSHA256(ln)
	const payload = 1 << 20
	conn, err := client.Net().DialContext(ctx, "tcp", "10.99.0.1:9000")
	if err != nil {
		t.Fatalf("dial through tunnel: %v", err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	testenv.SendChecked(t, conn, payload, 1)
	conn.Close()

	d := dumpOf(t, a)
	if len(d.Peers) != 1 {
		t.Fatalf("dump: %+v", d)
	}
	p := d.Peers[0]
	// The dump shows the session.
	if p.LatestHandshake == nil {
		t.Error("latest_handshake = null")
	}
	if p.TransferRx < payload {
		t.Errorf("transfer_rx = %d, want at least %d", p.TransferRx, payload)
	}
	if p.Endpoint == nil || *p.Endpoint == "" {
		t.Errorf("endpoint = %v, want one", p.Endpoint)
	}
	if t.Failed() {
		t.FailNow()
	}
	if !strings.HasPrefix(*p.Endpoint, "127.0.0.1:") {
		t.Errorf("endpoint %q, want 127.0.0.1:port", *p.Endpoint)
	}
}
