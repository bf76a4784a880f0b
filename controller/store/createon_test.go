package store

import (
	"context"
	"errors"
	"testing"
)

// TestCreatePeerOnNode: a peer created on the node read in the same
// transaction gets its addresses and bumps the generation as
// CreatePeerWithAllocation does; a node other than the one the peer names
// is refused and nothing is written.
func TestCreatePeerOnNode(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n1 := mustCreateNode(t, s, testNode("n1"))
	n2 := mustCreateNode(t, s, testNode("n2"))
	var created Peer
	err := s.InTx(ctx, func(tx *Tx) error {
		node, err := tx.GetNode(ctx, n1.ID)
		if err != nil {
			return err
		}
		created, err = tx.CreatePeerOnNode(ctx, node, testPeer(t, n1.ID, "p1"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.NodeID != n1.ID || !created.Address4.IsValid() || created.SyncState != SyncPending {
		t.Errorf("created %+v: want on node %d with an address, pending", created, n1.ID)
	}
	if got, err := s.GetNode(ctx, n1.ID); err != nil || got.DesiredGeneration != n1.DesiredGeneration+1 {
		t.Errorf("node generation %d (err %v), want %d", got.DesiredGeneration, err, n1.DesiredGeneration+1)
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		node, err := tx.GetNode(ctx, n2.ID)
		if err != nil {
			return err
		}
		_, err = tx.CreatePeerOnNode(ctx, node, testPeer(t, n1.ID, "p2"))
		return err
	})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("peer naming node %d created on node %d: err %v, want ErrInvalid", n1.ID, n2.ID, err)
	}
	if n, err := s.CountPeers(ctx, n1.ID); err != nil || n != 1 {
		t.Errorf("node 1 holds %d peers (err %v), want 1", n, err)
	}
	if n, err := s.CountPeers(ctx, n2.ID); err != nil || n != 0 {
		t.Errorf("node 2 holds %d peers (err %v), want 0", n, err)
	}
}
