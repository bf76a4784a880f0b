package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReadsProceedDuringWrite: while a write transaction is open (and
// has written), reads from other goroutines return without waiting for
// it, and see the database as it was before it; once it commits, the next
// read sees its change.
func TestReadsProceedDuringWrite(t *testing.T) {
	s, _, _ := openTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n := mustCreateNode(t, s, testNode("n1"))
	reads := []struct {
		name string
		read func() (enabled bool, err error)
	}{
		{"GetNode", func() (bool, error) { got, err := s.GetNode(ctx, n.ID); return got.Enabled, err }},
		{"ListNodes", func() (bool, error) {
			got, err := s.ListNodes(ctx)
			if err == nil && len(got) != 1 {
				err = errors.New("not one node")
			}
			if err != nil {
				return false, err
			}
			return got[0].Enabled, nil
		}},
		{"View", func() (bool, error) {
			var enabled bool
			err := s.View(ctx, func(tx *Tx) error {
				got, err := tx.GetNode(ctx, n.ID)
				enabled = got.Enabled
				return err
			})
			return enabled, err
		}},
	}
	err := s.InTx(ctx, func(tx *Tx) error {
		if err := tx.SetNodeEnabled(ctx, n.ID, false); err != nil {
			return err
		}
		for _, r := range reads {
			res := make(chan error, 1)
			go func() {
				enabled, err := r.read()
				if err == nil && !enabled {
					err = errors.New("it sees the open transaction's uncommitted change")
				}
				res <- err
			}()
			select {
			case err := <-res:
				if err != nil {
					t.Errorf("%s during a write transaction: %v", r.name, err)
				}
			case <-ctx.Done():
				t.Errorf("%s during a write transaction has not returned: it waits for the writer", r.name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reads {
		if enabled, err := r.read(); err != nil || enabled {
			t.Errorf("%s after the commit: enabled %v, err %v; want the committed change seen", r.name, enabled, err)
		}
	}
}

// TestViewRefusesWrites: a Tx method that writes fails inside View, and
// nothing of it reaches the database.
func TestViewRefusesWrites(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	n := mustCreateNode(t, s, testNode("n1"))
	err := s.View(ctx, func(tx *Tx) error {
		return tx.SetNodeEnabled(ctx, n.ID, false)
	})
	if err == nil {
		t.Fatal("SetNodeEnabled inside View succeeded; want it refused")
	}
	if got, err := s.GetNode(ctx, n.ID); err != nil || !got.Enabled {
		t.Errorf("after the refused write: enabled %v, err %v; want the node unchanged", got.Enabled, err)
	}
}

// TestViewReadsOneSnapshot: the reads of one View agree with each other
// even when a write commits between them.
func TestViewReadsOneSnapshot(t *testing.T) {
	s, _, _ := openTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n := mustCreateNode(t, s, testNode("n1"))
	err := s.View(ctx, func(tx *Tx) error {
		before, err := tx.GetNode(ctx, n.ID)
		if err != nil {
			return err
		}
		// Another goroutine's write commits meanwhile: writes do not wait
		// for readers.
		done := make(chan error, 1)
		go func() { done <- s.SetNodeEnabled(ctx, n.ID, false) }()
		select {
		case err := <-done:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			t.Fatal("a write waited for an open read-only transaction")
		}
		after, err := tx.GetNode(ctx, n.ID)
		if err != nil {
			return err
		}
		if before.Enabled != after.Enabled || !after.Enabled {
			t.Errorf("inside one View: enabled %v then %v; want both true (the snapshot)", before.Enabled, after.Enabled)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetNode(ctx, n.ID); err != nil || got.Enabled {
		t.Errorf("after the View: enabled %v, err %v; want the write seen", got.Enabled, err)
	}
}
