package store

import (
	"context"
	"net/netip"
	"testing"
)

// TestListNodePools: every node's name and pools, the IPv6 one zero when a
// node has none, in id order, as ListNodes reads them.
func TestListNodePools(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	a := testNode("four-only")
	a.IPPool = netip.MustParsePrefix("10.61.0.0/24")
	a.IPPool6 = netip.Prefix{}
	b := testNode("dual")
	b.IPPool = netip.MustParsePrefix("10.62.0.0/24")
	b.IPPool6 = netip.MustParsePrefix("fd62::/64")
	na, nb := mustCreateNode(t, s, a), mustCreateNode(t, s, b)
	got, err := inTx(ctx, s, func(tx *Tx) ([]NodePools, error) { return tx.ListNodePools(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	want := []NodePools{
		{ID: na.ID, Name: "four-only", IPPool: a.IPPool},
		{ID: nb.ID, Name: "dual", IPPool: b.IPPool, IPPool6: b.IPPool6},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("node %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
