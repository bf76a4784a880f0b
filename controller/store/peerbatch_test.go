package store

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
)

// TestGetPeersAndSetPeersApplied: GetPeers reads each existing peer as
// GetPeer does, in id order, over more ids than one statement takes, with
// ids repeated and ids of no peer left out; SetPeersApplied marks exactly
// the peers named (an error's message cleared) and no other.
func TestGetPeersAndSetPeersApplied(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n1 := mustCreateNode(t, s, testNode("n1"))
	big := testNode("n2")
	big.IPPool, big.IPPool6 = netip.MustParsePrefix("10.9.0.0/24"), netip.Prefix{}
	n2 := mustCreateNode(t, s, big)
	var all []Peer
	for i := range 75 {
		node := n1.ID
		if i%2 == 1 {
			node = n2.ID
		}
		all = append(all, mustCreatePeer(t, s, testPeer(t, node, fmt.Sprintf("p%d", i))))
	}
	for _, i := range []int{4, 6} { // 4 is not marked below, 6 is
		if err := s.SetPeerSyncState(ctx, all[i].ID, SyncError, "refused"); err != nil {
			t.Fatal(err)
		}
	}

	var ids, want []int64
	for i := len(all) - 1; i >= 0; i -= 1 + i%2 { // backwards, skipping some
		ids = append(ids, all[i].ID)
		want = append([]int64{all[i].ID}, want...)
	}
	ids = append(ids, all[3].ID, all[3].ID, 999999) // a repeat, and no such peer
	got, err := view(ctx, s, func(tx *Tx) ([]Peer, error) { return tx.GetPeers(ctx, ids) })
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []int64
	for _, p := range got {
		gotIDs = append(gotIDs, p.ID)
		one, err := s.GetPeer(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p, one) {
			t.Errorf("GetPeers read peer %d as\n%+v\nGetPeer reads\n%+v", p.ID, p, one)
		}
	}
	if !reflect.DeepEqual(gotIDs, want) {
		t.Fatalf("GetPeers ids %v, want %v", gotIDs, want)
	}

	marked := map[int64]bool{}
	var mark []int64
	for i, p := range all {
		if i%3 != 1 {
			mark = append(mark, p.ID)
			marked[p.ID] = true
		}
	}
	mark = append(mark, 999999)
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetPeersApplied(ctx, mark) }); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		now, err := s.GetPeer(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := SyncPending, ""
		switch {
		case marked[p.ID]:
			want = SyncApplied
		case p.ID == all[4].ID:
			want, wantErr = SyncError, "refused"
		}
		if now.SyncState != want || now.SyncError != wantErr {
			t.Errorf("peer %d: %s %q, want %s %q", p.ID, now.SyncState, now.SyncError, want, wantErr)
		}
	}
}
