package store

import (
	"context"
	"slices"
	"testing"
)

// TestPeerNamesWithPrefix: the names that start with the prefix, on any
// node, letter case counting; multi-byte prefixes by characters.
func TestPeerNamesWithPrefix(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("names"))
	for _, name := range []string{"laptop-1", "laptop-x", "Laptop-2", "lap", "été-3", "été"} {
		mustCreatePeer(t, s, testPeer(t, n.ID, name))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"laptop-", []string{"laptop-1", "laptop-x"}},
		{"Laptop-", []string{"Laptop-2"}},
		{"été-", []string{"été-3"}},
		{"phone-", []string{}},
		{"", []string{"laptop-1", "laptop-x", "Laptop-2", "lap", "été-3", "été"}},
	}
	for _, tt := range tests {
		var got []string
		err := s.InTx(ctx, func(tx *Tx) error {
			var err error
			got, err = tx.PeerNamesWithPrefix(ctx, tt.prefix)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tt.want))
		if !slices.Equal(got, want) {
			t.Errorf("PeerNamesWithPrefix(%q) = %q, want %q", tt.prefix, got, want)
		}
	}
}
