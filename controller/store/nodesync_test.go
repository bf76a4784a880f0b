package store

import (
	"context"
	"errors"
	"reflect"
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

// TestGetNodeAgent: the narrow read of a push is the node as GetNode
// reads it, with no health document and no labels: secrets (a rotation's
// previous one too), interface key, generations and the rest; an unknown
// node is ErrNodeNotFound.
func TestGetNodeAgent(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	n := testNode("agent")
	n.Labels = map[string]string{"region": "eu"}
	n = mustCreateNode(t, s, n)
	check := func(when string) {
		t.Helper()
		full, err := s.GetNode(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := view(ctx, s, func(tx *Tx) (Node, error) { return tx.GetNodeAgent(ctx, n.ID) })
		if err != nil {
			t.Fatal(err)
		}
		if got.HealthJSON != nil || got.Labels != nil {
			t.Fatalf("%s: health %q, labels %v; want neither", when, got.HealthJSON, got.Labels)
		}
		full.HealthJSON, full.Labels = nil, nil
		if !reflect.DeepEqual(got, full) {
			t.Fatalf("%s: got %+v, want %+v", when, got, full)
		}
	}
	check("new node")
	key := newKey(t).PublicKey()
	if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, []byte(`{"status":"ok"}`), key, "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BumpGeneration(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetNodeSecrets(ctx, n.ID, []byte("next-secret"), n.Secret) }); err != nil {
		t.Fatal(err)
	}
	check("after health, a generation and a secret rotation's step")
	if got, err := s.GetNode(ctx, n.ID); err != nil || got.PrevSecret == nil || got.HealthJSON == nil || got.ServerPublicKey != key {
		t.Fatalf("test broken: %+v, %v", got, err)
	}
	_, err := view(ctx, s, func(tx *Tx) (Node, error) { return tx.GetNodeAgent(ctx, n.ID+1000) })
	if !errors.Is(err, ErrNodeNotFound) {
		t.Fatalf("unknown node: %v, want ErrNodeNotFound", err)
	}
}
