package store

import (
	"context"
	"encoding/json"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestNodesWithServerKey: only the nodes that reported the key are found,
// all of them, by id; a key no node reported finds none.
func TestNodesWithServerKey(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	a := mustCreateNode(t, s, testNode("a"))
	b := mustCreateNode(t, s, testNode("b"))
	c := mustCreateNode(t, s, testNode("c"))
	doc := json.RawMessage(`{"status":"ok"}`)
	shared, other, unknown := newKey(t).PublicKey(), newKey(t).PublicKey(), newKey(t).PublicKey()
	for _, r := range []struct {
		id  int64
		key wgtypes.Key
	}{{a.ID, shared}, {b.ID, other}, {c.ID, shared}} {
		if err := s.RecordNodeHealth(ctx, r.id, NodeOnline, doc, r.key, "", true); err != nil {
			t.Fatal(err)
		}
	}
	find := func(k wgtypes.Key) []int64 {
		t.Helper()
		var ids []int64
		err := s.InTx(ctx, func(tx *Tx) error {
			nodes, err := tx.NodesWithServerKey(ctx, k)
			for _, n := range nodes {
				ids = append(ids, n.ID)
				if n.ServerPublicKey != k {
					t.Errorf("node %d has key %v, want %v", n.ID, n.ServerPublicKey, k)
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := find(shared); len(got) != 2 || got[0] != a.ID || got[1] != c.ID {
		t.Errorf("nodes with the shared key = %v, want [%d %d]", got, a.ID, c.ID)
	}
	if got := find(other); len(got) != 1 || got[0] != b.ID {
		t.Errorf("nodes with the other key = %v, want [%d]", got, b.ID)
	}
	if got := find(unknown); len(got) != 0 {
		t.Errorf("nodes with an unreported key = %v, want none", got)
	}
}
