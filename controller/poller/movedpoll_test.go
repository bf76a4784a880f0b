package poller

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestPeerMovedMidPollCountedOnce: a peer moved to another node while a
// poll of its old node is between reading the node's peers from the
// database and writing what the agent counted, and recorded there by the
// other node's poll meanwhile, is not counted twice: the old node's poll
// writes nothing for it, so its traffic history sums to its totals, and
// its counters stay the new node's.
//
// The move is made at a point of the poll, not at a time: the poll's
// node.online event (published after the node's health is written and
// before its peers' stats) takes the store's write lock with a
// transaction that moves the peer and records the new node's poll of it;
// that transaction commits only once the poll waits for the write lock to
// write its stats.
func TestPeerMovedMidPollCountedOnce(t *testing.T) {
	f := newFixture(t)
	a := agenttest.Start(t, agenttest.Options{})
	old := f.addNode("moved-from", a.URL, a.Secret, a.Iface)
	dst := f.addNode("moved-to", "http://127.0.0.1:9", "unused", "wg9")
	peer, key := f.addPeer(old.ID)

	// The peer on the agent, with traffic recorded once, and more since.
	first := f.poller(Config{Reconciler: f.reconciler()})
	if sum := first.PollOnce(f.ctx); sum.Online != 1 || sum.Reconciled != 1 {
		t.Fatalf("first poll: %+v", sum)
	}
	sendThrough(t, a, key, peer.Address4, 64<<10)
	first.PollOnce(f.ctx)
	sendThrough(t, a, key, peer.Address4, 64<<10)
	before, err := f.store.GetPeer(f.ctx, peer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if before.RxTotal == 0 || before.TxTotal == 0 {
		t.Fatalf("test broken: no traffic recorded before the move: %+v", before)
	}
	// The node offline in the database, so that the next poll publishes
	// node.online at the point the move is made.
	if err := f.store.RecordNodeHealth(f.ctx, old.ID, store.NodeOffline, nil, wgtypes.Key{}, "down for the test", false); err != nil {
		t.Fatal(err)
	}

	const newRx, newTx = 1000, 2000 // what the new node's agent counted
	held, release, committed := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	moveNow := events.PublisherFunc(func(_ context.Context, e events.Event) {
		if e.Type != events.NodeOnline {
			return
		}
		go func() {
			committed <- f.store.InTx(context.Background(), func(tx *store.Tx) error {
				if _, err := tx.MovePeer(f.ctx, peer.ID, dst.ID); err != nil {
					return err
				}
				rx, tx2, err := tx.RecordPeerStats(f.ctx, peer.ID, f.clock.Now(), newRx, newTx)
				if err != nil {
					return err
				}
				if err := tx.RecordTraffic(f.ctx, dst.ID, f.clock.Now(), []store.TrafficDelta{
					{PeerID: peer.ID, Rx: rx - before.RxTotal, Tx: tx2 - before.TxTotal}}); err != nil {
					return err
				}
				close(held)
				<-release
				return nil
			})
		}()
		<-held
	})
	p := f.poller(Config{Events: moveNow})
	polled := make(chan error, 1)
	go func() { polled <- p.PollNode(f.ctx, old.ID) }()
	waitForStack(t, "poller.(*Poller).recordStats", "store.(*Store).InTx")
	close(release)
	if err := <-committed; err != nil {
		t.Fatalf("moving the peer: %v", err)
	}
	if err := <-polled; err != nil {
		t.Fatalf("poll: %v", err)
	}

	after, err := f.store.GetPeer(f.ctx, peer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.NodeID != dst.ID || after.RxBytes != newRx || after.TxBytes != newTx ||
		after.RxTotal != before.RxTotal+newRx || after.TxTotal != before.TxTotal+newTx {
		t.Fatalf("after the move: node %d counters rx %d tx %d totals rx %d tx %d; want node %d, rx %d tx %d, totals %d and %d",
			after.NodeID, after.RxBytes, after.TxBytes, after.RxTotal, after.TxTotal,
			dst.ID, newRx, newTx, before.RxTotal+newRx, before.TxTotal+newTx)
	}
	buckets, err := f.store.PeerTraffic(f.ctx, peer.ID, store.TrafficMinute, f.clock.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var rx, tx int64
	for _, b := range buckets {
		rx, tx = rx+b.Rx, tx+b.Tx
	}
	if rx != after.RxTotal || tx != after.TxTotal {
		t.Fatalf("traffic history rx %d tx %d, want the totals rx %d tx %d (counted once)", rx, tx, after.RxTotal, after.TxTotal)
	}
}

// waitForStack waits until some goroutine's stack holds every one of
// frames (function names as runtime.Stack prints them): a goroutine that
// reached that point, and is blocked there.
func waitForStack(t *testing.T, frames ...string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			all := true
			for _, fr := range frames {
				all = all && strings.Contains(g, fr)
			}
			if all {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no goroutine reached %v", frames)
}
