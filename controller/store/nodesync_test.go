package store

import (
	"context"
	"errors"
	"testing"
)

// TestGetNodeSync: the few columns a reconcile by digest reads are the
// node's, as GetNode reads them, the interface key and generations
// included once set; an unknown node is ErrNodeNotFound.
func TestGetNodeSync(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	n := testNode("sync")
	n.DriftPolicy = DriftReport
	n = mustCreateNode(t, s, n)
	read := func() NodeSync {
		t.Helper()
		got, err := view(ctx, s, func(tx *Tx) (NodeSync, error) { return tx.GetNodeSync(ctx, n.ID) })
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	check := func(when string) {
		t.Helper()
		full, err := s.GetNode(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := NodeSync{ID: full.ID, Name: full.Name, Enabled: full.Enabled, WGInterface: full.WGInterface,
			ServerPublicKey: full.ServerPublicKey, DesiredGeneration: full.DesiredGeneration,
			AckedGeneration: full.AckedGeneration, DriftPolicy: full.DriftPolicy, Status: full.Status}
		if got := read(); got != want {
			t.Fatalf("%s: got %+v, want %+v", when, got, want)
		}
	}
	check("new node")

	key := newKey(t).PublicKey()
	if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, []byte(`{"status":"ok"}`), key, "", true); err != nil {
		t.Fatal(err)
	}
	gen, err := s.BumpGeneration(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BumpGeneration(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAckedGeneration(ctx, n.ID, gen); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNodeEnabled(ctx, n.ID, false); err != nil {
		t.Fatal(err)
	}
	check("after health, generations and disabling")
	if got := read(); got.ServerPublicKey != key || got.AckedGeneration != gen || got.DesiredGeneration <= gen || got.Enabled {
		t.Fatalf("test broken: %+v", got)
	}

	_, err = view(ctx, s, func(tx *Tx) (NodeSync, error) { return tx.GetNodeSync(ctx, n.ID+1000) })
	if !errors.Is(err, ErrNodeNotFound) {
		t.Fatalf("unknown node: %v, want ErrNodeNotFound", err)
	}
}
