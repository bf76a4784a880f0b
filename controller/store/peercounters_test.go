package store

import (
	"context"
	"testing"
	"time"
)

// TestListPeerCounters: the counters of one node's interface's peers, as
// RecordPeerStats left them, in id order; other nodes' peers and unknown
// nodes give none.
func TestListPeerCounters(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	n := mustCreateNode(t, s, testNode("counted"))
	other := mustCreateNode(t, s, testNode("other"))
	a := mustCreatePeer(t, s, testPeer(t, n.ID, "a"))
	b := mustCreatePeer(t, s, testPeer(t, n.ID, "b"))
	mustCreatePeer(t, s, testPeer(t, other.ID, "elsewhere"))
	hs := time.Unix(1_800_000_000, 0).UTC()
	if err := s.RecordPeerStats(ctx, b.ID, hs, 300, 400); err != nil {
		t.Fatal(err)
	}
	list := func(nodeID int64, iface string) []PeerCounters {
		t.Helper()
		out, err := inTx(ctx, s, func(tx *Tx) ([]PeerCounters, error) { return tx.ListPeerCounters(ctx, nodeID, iface) })
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := list(n.ID, n.WGInterface)
	want := []PeerCounters{
		{ID: a.ID, PublicKey: a.PublicKey},
		{ID: b.ID, PublicKey: b.PublicKey, LastHandshake: hs, RxBytes: 300, TxBytes: 400, RxTotal: 300, TxTotal: 400},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d peers %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if g, w := got[i], want[i]; g.ID != w.ID || g.PublicKey != w.PublicKey || !g.LastHandshake.Equal(w.LastHandshake) ||
			g.RxBytes != w.RxBytes || g.TxBytes != w.TxBytes || g.RxTotal != w.RxTotal || g.TxTotal != w.TxTotal {
			t.Fatalf("peer %d: got %+v, want %+v", i, g, w)
		}
	}
	if got := list(n.ID, "wg7"); len(got) != 0 {
		t.Fatalf("another interface: %+v", got)
	}
	if got := list(9999, n.WGInterface); len(got) != 0 {
		t.Fatalf("an unknown node: %+v", got)
	}
}
