package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestStoreCallInsideInTxIsRefused: a Store method, a nested InTx or
// Reseal called from inside InTx's function on the same goroutine fails
// with ErrNestedTx at once instead of waiting forever for the connection
// (or the key lock), and the outer transaction goes on to commit.
func TestStoreCallInsideInTxIsRefused(t *testing.T) {
	ctx := context.Background()
	calls := []struct {
		name string
		call func(s *Store, id int64) error
	}{
		{"GetNode", func(s *Store, id int64) error { _, err := s.GetNode(ctx, id); return err }},
		{"InTx", func(s *Store, _ int64) error { return s.InTx(ctx, func(*Tx) error { return nil }) }},
		{"View", func(s *Store, _ int64) error { return s.View(ctx, func(*Tx) error { return nil }) }},
		{"Reseal", func(s *Store, _ int64) error { _, err := s.Reseal(ctx, testBox(t, 2)); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			// Opened without openTest's Close at cleanup: after a deadlock
			// Close would wait for the connection forever too.
			s, err := Open(ctx, filepath.Join(t.TempDir(), "controller.db"), testBox(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			n := mustCreateNode(t, s, testNode("n1"))
			var inner error
			done := make(chan error, 1)
			// On a goroutine of its own, so that a regression (a deadlock)
			// fails this test instead of hanging the test binary.
			go func() {
				done <- s.InTx(ctx, func(tx *Tx) error {
					inner = c.call(s, n.ID)
					return tx.SetNodeEnabled(ctx, n.ID, false)
				})
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("the outer transaction: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s inside InTx has not returned after 10s: deadlock", c.name)
			}
			defer s.Close()
			if !errors.Is(inner, ErrNestedTx) {
				t.Errorf("%s inside InTx: err = %v, want ErrNestedTx", c.name, inner)
			}
			if got, err := s.GetNode(ctx, n.ID); err != nil || got.Enabled {
				t.Errorf("after the transaction: node enabled %v, err %v; want the outer transaction's change committed", got.Enabled, err)
			}
		})
	}
}

// TestStoreCallFromAnotherGoroutineWaits: the check knows goroutines
// apart: another goroutine's write during a transaction waits its turn and
// succeeds. (Its reads do not wait: TestReadsProceedDuringWrite.)
func TestStoreCallFromAnotherGoroutineWaits(t *testing.T) {
	s, _, _ := openTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := mustCreateNode(t, s, testNode("n1"))
	res := make(chan error, 1)
	early := false
	err := s.InTx(ctx, func(*Tx) error {
		go func() {
			res <- s.SetNodeEnabled(ctx, n.ID, false)
		}()
		select {
		case err := <-res:
			early = true
			t.Errorf("SetNodeEnabled from another goroutine returned %v during the transaction; want it to wait", err)
		case <-time.After(100 * time.Millisecond):
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !early {
		if err := <-res; err != nil {
			t.Fatalf("SetNodeEnabled from another goroutine: %v", err)
		}
	}
}

// TestStoreCallInsideViewIsRefused: a Store method, InTx or a nested View
// called from inside View's function on the same goroutine fails with
// ErrNestedTx; the same calls from another goroutine while that View runs
// succeed.
func TestStoreCallInsideViewIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("n1"))
	calls := []struct {
		name string
		call func() error
	}{
		{"GetNode", func() error { _, err := s.GetNode(ctx, n.ID); return err }},
		{"InTx", func() error { return s.InTx(ctx, func(*Tx) error { return nil }) }},
		{"View", func() error { return s.View(ctx, func(*Tx) error { return nil }) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			var inner, beside error
			err := s.View(ctx, func(tx *Tx) error {
				inner = c.call()
				done := make(chan error, 1)
				go func() { done <- c.call() }()
				beside = <-done
				_, err := tx.GetNode(ctx, n.ID)
				return err
			})
			if err != nil {
				t.Fatalf("the outer View: %v", err)
			}
			if !errors.Is(inner, ErrNestedTx) {
				t.Errorf("%s inside View: err = %v, want ErrNestedTx", c.name, inner)
			}
			if beside != nil {
				t.Errorf("%s from another goroutine during the View: %v, want it to succeed", c.name, beside)
			}
		})
	}
}
