package poller

import (
	"context"
	"sync"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestRestrictedPeerCountsInFullWhenBack: a peer off its agent has its
// last seen counters forgotten, so that when it is put back, with
// counters from 0, everything they show is added to its totals, even
// more than it had before it left (which the "lower means reset" rule
// alone would count only in part). Limits are applied on every poll of
// the node.
func TestRestrictedPeerCountsInFullWhenBack(t *testing.T) {
	f := newFixture(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a.URL, a.Secret, a.Iface)
	peer, key := f.addPeer(n.ID)
	var (
		mu     sync.Mutex
		limits []int64
	)
	p := f.poller(Config{Reconciler: f.reconciler(), Limits: LimitsFunc(func(_ context.Context, nodeID int64) error {
		mu.Lock()
		defer mu.Unlock()
		limits = append(limits, nodeID)
		return nil
	})})
	get := func() store.Peer {
		t.Helper()
		got, err := f.store.GetPeer(f.ctx, peer.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	p.PollOnce(f.ctx) // the reconcile puts the peer on the agent
	sendThrough(t, a, key, peer.Address4, 32<<10)
	p.PollOnce(f.ctx)

	if err := f.store.SetPeerEnabled(f.ctx, peer.ID, false); err != nil {
		t.Fatal(err)
	}
	p.PollOnce(f.ctx) // its dump still shows the peer; its reconcile takes it off
	before := get()
	if before.RxBytes < 32<<10 {
		t.Fatalf("after traffic: rx %d", before.RxBytes)
	}
	p.PollOnce(f.ctx) // this dump no longer shows it
	off := get()
	testenv.Equal(t, "rx_bytes off the agent", off.RxBytes, int64(0))
	testenv.Equal(t, "tx_bytes off the agent", off.TxBytes, int64(0))
	testenv.Equal(t, "rx_total off the agent", off.RxTotal, before.RxTotal)
	testenv.Equal(t, "tx_total off the agent", off.TxTotal, before.TxTotal)

	if err := f.store.SetPeerEnabled(f.ctx, peer.ID, true); err != nil {
		t.Fatal(err)
	}
	p.PollOnce(f.ctx) // back on the agent, counters from 0
	sendThrough(t, a, key, peer.Address4, 128<<10)
	p.PollOnce(f.ctx)
	back := get()
	if back.RxBytes <= before.RxBytes || back.TxBytes <= before.TxBytes {
		t.Fatalf("test broken: the new counters (%d, %d) are not above the old ones (%d, %d)",
			back.RxBytes, back.TxBytes, before.RxBytes, before.TxBytes)
	}
	testenv.Equal(t, "rx_total after coming back", back.RxTotal, before.RxTotal+back.RxBytes)
	testenv.Equal(t, "tx_total after coming back", back.TxTotal, before.TxTotal+back.TxBytes)

	mu.Lock()
	defer mu.Unlock()
	testenv.Equal(t, "limits applied, once per poll of the node", len(limits), 6)
	for _, id := range limits {
		testenv.Equal(t, "limits applied to node", id, n.ID)
	}
}
