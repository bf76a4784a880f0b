package poller

import (
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// sendThrough sends size bytes as the peer with key and addr to a service
// in the agent's netstack, and as many back (agenttest's Exchange): both
// of the agent's counters grow by about size.
func sendThrough(t *testing.T, a *agenttest.Agent, key wgtypes.Key, addr netip.Addr, size int) {
	t.Helper()
	if err := a.Exchange(key, addr, size, 30*time.Second); err != nil {
		t.Fatal(err)
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
	peer, key := f.addPeer(n.ID)
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
		f.addPeer(n.ID)
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
