package store

import (
	"context"
	"slices"
	"testing"
)

// TestListNodePolls: the poll cycle's narrow list is every node's id,
// enabled flag and failures in a row as ListNodes reads them, in id order:
// a disabled node, one whose polls failed twice, one that answered again.
func TestListNodePolls(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	if got, err := s.ListNodePolls(ctx); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v; want an empty slice", got, err)
	}
	a := mustCreateNode(t, s, testNode("poll-a"))
	b := testNode("poll-b")
	b.Enabled = false
	b = mustCreateNode(t, s, b)
	c := mustCreateNode(t, s, testNode("poll-c"))
	for range 2 {
		if err := s.RecordNodeHealth(ctx, a.ID, NodeOffline, nil, [32]byte{}, "down", false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordNodeHealth(ctx, c.ID, NodeOffline, nil, [32]byte{}, "down", false); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordNodeHealth(ctx, c.ID, NodeOnline, []byte(`{"status":"ok"}`), [32]byte{}, "", true); err != nil {
		t.Fatal(err)
	}
	full, err := s.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []NodePoll
	for _, n := range full {
		want = append(want, NodePoll{ID: n.ID, Enabled: n.Enabled, ConsecutiveFailures: n.ConsecutiveFailures})
	}
	got, err := s.ListNodePolls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if want[0].ConsecutiveFailures != 2 || want[1].Enabled || want[2].ConsecutiveFailures != 0 {
		t.Fatalf("test broken: the nodes are %+v", want)
	}
}
