package store

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/ipam"
)

func TestMovePeerKeepsIdentity(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	src := mustCreateNode(t, s, testNode("src"))
	dstNode := testNode("dst")
	dstNode.IPPool = netip.MustParsePrefix("10.9.0.0/30")
	dstNode.IPPool6 = netip.Prefix{}
	dst := mustCreateNode(t, s, dstNode)
	p := mustCreatePeer(t, s, testPeer(t, src.ID, "mover"))
	stay := mustCreatePeer(t, s, testPeer(t, src.ID, "stay"))
	if err := s.RecordPeerStats(ctx, p.ID, time.Now(), 500, 700); err != nil {
		t.Fatal(err)
	}
	srcGen, dstGen := src.DesiredGeneration+2, dst.DesiredGeneration

	var moved Peer
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		moved, err = tx.MovePeer(ctx, p.ID, dst.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if moved.ID != p.ID || moved.NodeID != dst.ID || moved.Address4 != netip.MustParseAddr("10.9.0.2") || moved.Address6.IsValid() {
		t.Fatalf("moved %+v", moved)
	}
	if moved.PrivateKey == nil || *moved.PrivateKey != *p.PrivateKey || *moved.PresharedKey != *p.PresharedKey {
		t.Fatal("keys did not survive the move (they are sealed under the peer id)")
	}
	if moved.RxTotal != 500 || moved.TxTotal != 700 || moved.RxBytes != 0 || !moved.LastHandshake.IsZero() || moved.SyncState != SyncPending {
		t.Fatalf("traffic/sync after move: %+v", moved)
	}
	if len(moved.AllowedIPs) != 1 || moved.AllowedIPs[0] != ipam.HostPrefix(moved.Address4) {
		t.Fatalf("allowed IPs %v", moved.AllowedIPs)
	}
	n1, _ := s.GetNode(ctx, src.ID)
	n2, _ := s.GetNode(ctx, dst.ID)
	if n1.DesiredGeneration != srcGen+1 || n2.DesiredGeneration != dstGen+1 {
		t.Fatalf("generations %d/%d, want %d/%d", n1.DesiredGeneration, n2.DesiredGeneration, srcGen+1, dstGen+1)
	}
	// The source's address is free again: the next peer there gets it.
	again := mustCreatePeer(t, s, testPeer(t, src.ID, "next"))
	if again.Address4 != p.Address4 || again.Address4 == stay.Address4 {
		t.Fatalf("freed address not reused: %v", again.Address4)
	}
	// The /30 target had one usable address (.1 is the node's, .3 the broadcast): it is full now.
	err = s.InTx(ctx, func(tx *Tx) error { _, err := tx.MovePeer(ctx, stay.ID, dst.ID); return err })
	if !errors.Is(err, ipam.ErrPoolExhausted) {
		t.Fatalf("move into a full pool: %v", err)
	}
	if got, _ := s.GetPeer(ctx, stay.ID); got.NodeID != src.ID || got.Address4 != stay.Address4 {
		t.Fatalf("a refused move changed the peer: %+v", got)
	}
	err = s.InTx(ctx, func(tx *Tx) error { _, err := tx.MovePeer(ctx, stay.ID, src.ID); return err })
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("move to its own node: %v", err)
	}
}
