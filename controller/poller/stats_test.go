package poller

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/tunnel"
)

// sendThrough opens a client tunnel with the peer's key and address,
// points it at the agent, and sends size bytes to a TCP service inside the
// agent's netstack, which sends as many back: both of the agent's
// counters grow by about size.
func sendThrough(t *testing.T, a *agenttest.Agent, key wgtypes.Key, addr netip.Addr, size int) {
	t.Helper()
	server := a.Tunnel(a.Iface)
	client, err := tunnel.NewNetstack(tunnel.Config{Name: "client0", PrivateKey: key,
		Addresses: []netip.Prefix{netip.PrefixFrom(addr, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ep := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: server.ListenPort()}
	if err := client.Configure([]wgtypes.PeerConfig{{PublicKey: server.PublicKey(), Endpoint: ep,
		AllowedIPs: []net.IPNet{{IP: net.IPv4(10, 99, 0, 0), Mask: net.CIDRMask(24, 32)}}}}); err != nil {
		t.Fatal(err)
	}
	ln, err := server.Net().ListenTCP(&net.TCPAddr{IP: net.IPv4(10, 99, 0, 1), Port: 9000})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		n, _ := io.Copy(io.Discard, c)
		_, _ = io.Copy(c, io.LimitReader(rand.Reader, n))
		got <- n
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := client.Net().DialContext(ctx, "tcp", "10.99.0.1:9000")
	if err != nil {
		t.Fatalf("dial through the tunnel: %v", err)
	}
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(conn, bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	back, err := io.Copy(io.Discard, conn)
	if err != nil || back != int64(size) {
		t.Fatalf("got %d bytes back (%v), want %d", back, err, size)
	}
	select {
	case n := <-got:
		if n != int64(size) {
			t.Fatalf("service got %d bytes, sent %d", n, size)
		}
	case <-ctx.Done():
		t.Fatal("transfer timed out")
	}
}

// TestStatsSurviveCounterReset: the poller applies a peer created in the
// database (through the reconciler), records its traffic, and keeps the
// totals growing when the agent restarts and its counters start again
// from zero.
func TestStatsSurviveCounterReset(t *testing.T) {
	f := newFixture(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a.URL, a.Secret, a.Iface)
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := f.store.CreatePeerWithAllocation(f.ctx, store.Peer{NodeID: n.ID, PublicKey: key.PublicKey(), PrivateKey: &key, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	p := f.poller(Config{Reconciler: f.reconciler()})

	// First poll: the reconcile puts the peer on the agent.
	if sum := p.PollOnce(f.ctx); sum.Online != 1 || sum.Reconciled != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if got, _ := f.store.GetPeer(f.ctx, peer.ID); got.SyncState != store.SyncApplied {
		t.Fatalf("peer %s after the poll's reconcile", got.SyncState)
	}

	sendThrough(t, a, key, peer.Address4, 256<<10)
	p.PollOnce(f.ctx)
	first, _ := f.store.GetPeer(f.ctx, peer.ID)
	if first.RxBytes < 256<<10 || first.TxBytes < 256<<10 || first.LastHandshake.IsZero() || first.RxTotal != first.RxBytes {
		t.Fatalf("after traffic: rx %d tx %d total %d handshake %v", first.RxBytes, first.TxBytes, first.RxTotal, first.LastHandshake)
	}

	// The agent restarts with its peers but fresh counters.
	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}
	f.clock.Advance(time.Hour)
	p.PollOnce(f.ctx)
	b := agenttest.Start(t, agenttest.Options{Addr: a.Addr, StateDir: a.StateDir, Secret: a.Secret})
	sendThrough(t, b, key, peer.Address4, 32<<10)
	f.clock.Advance(time.Hour)
	if sum := p.PollOnce(f.ctx); sum.Online != 1 {
		t.Fatalf("after restart: %+v", sum)
	}
	second, _ := f.store.GetPeer(f.ctx, peer.ID)
	if second.RxBytes >= first.RxBytes || second.TxBytes >= first.TxBytes {
		t.Fatalf("test broken: counters did not reset (rx %d then %d, tx %d then %d)",
			first.RxBytes, second.RxBytes, first.TxBytes, second.TxBytes)
	}
	if second.RxTotal != first.RxTotal+second.RxBytes || second.TxTotal != first.TxTotal+second.TxBytes {
		t.Fatalf("totals rx %d tx %d, want %d and %d",
			second.RxTotal, second.TxTotal, first.RxTotal+second.RxBytes, first.TxTotal+second.TxBytes)
	}
	if second.LastHandshake.Before(first.LastHandshake) {
		t.Fatal("handshake went back")
	}
}

// TestPollerConvergesAfterOutage: peers created while the agent is down
// reach it through the polls alone once it is back.
func TestPollerConvergesAfterOutage(t *testing.T) {
	f := newFixture(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a.URL, a.Secret, a.Iface)
	p := f.poller(Config{Reconciler: f.reconciler()})
	p.PollOnce(f.ctx)
	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}

	for range 3 {
		key, _ := wgtypes.GeneratePrivateKey()
		if _, err := f.store.CreatePeerWithAllocation(f.ctx, store.Peer{NodeID: n.ID, PublicKey: key.PublicKey(), Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(time.Hour)
	if sum := p.PollOnce(f.ctx); sum.Offline != 1 || sum.Reconciled != 0 {
		t.Fatalf("with the agent down: %+v", sum)
	}
	b := agenttest.Start(t, agenttest.Options{Addr: a.Addr, Secret: a.Secret}) // empty state too
	f.clock.Advance(time.Hour)
	if sum := p.PollOnce(f.ctx); sum.Online != 1 || sum.Reconciled != 1 {
		t.Fatalf("after restart: %+v", sum)
	}
	peers, _ := b.Tunnel(b.Iface).Peers()
	if len(peers) != 3 {
		t.Fatalf("agent has %d peers, want 3", len(peers))
	}
	nd := f.node(n.ID)
	if nd.AckedGeneration != nd.DesiredGeneration || nd.Status != store.NodeOnline {
		t.Fatalf("node %+v", nd)
	}
}
