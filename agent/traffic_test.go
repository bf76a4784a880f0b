package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
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
	payload := make([]byte, 1<<20)
	_, _ = rand.Read(payload)
	got := make(chan [32]byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- [32]byte{}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		h := sha256.New()
		_, _ = io.Copy(h, c)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		got <- sum
	}()

	conn, err := client.Net().DialContext(ctx, "tcp", "10.99.0.1:9000")
	if err != nil {
		t.Fatalf("dial through tunnel: %v", err)
	}
	if _, err := io.Copy(conn, bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	select {
	case sum := <-got:
		if sum != sha256.Sum256(payload) {
			t.Fatal("payload arrived corrupted")
		}
	case <-ctx.Done():
		t.Fatal("transfer timed out")
	}

	d := dumpOf(t, a)
	if len(d.Peers) != 1 {
		t.Fatalf("dump: %+v", d)
	}
	p := d.Peers[0]
	if p.LatestHandshake == nil || p.TransferRx < int64(len(payload)) || p.Endpoint == nil || *p.Endpoint == "" {
		t.Fatalf("dump does not show the session: %+v (endpoint %v)", p, p.Endpoint)
	}
	if !strings.HasPrefix(*p.Endpoint, "127.0.0.1:") {
		t.Errorf("endpoint %q, want 127.0.0.1:port", *p.Endpoint)
	}
}
