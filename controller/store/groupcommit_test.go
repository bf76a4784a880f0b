package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// holdWriter runs a write transaction that waits until release is
// closed, so the InTx calls made meanwhile queue up and run together in
// the writer's next transaction. It returns once that transaction runs,
// and a function that waits for it to end.
func holdWriter(t *testing.T, s *Store, release <-chan struct{}) (wait func()) {
	t.Helper()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(context.Background(), func(*Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	return func() {
		if err := <-done; err != nil {
			t.Errorf("the holding transaction: %v", err)
		}
	}
}

// TestGroupCommitKeepsEachFunctionApart: functions queued behind one
// write transaction run in one batch, yet each is what InTx promises on
// its own: one that fails, panics or whose ctx ended changes nothing,
// the others commit; a panic is raised on its own caller's goroutine;
// and increments made one after another all count (each function reads
// what the one before it wrote).
func TestGroupCommitKeepsEachFunctionApart(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	n := mustCreateNode(t, s, testNode("n1"))
	failing := errors.New("this function fails")

	release := make(chan struct{})
	wait := holdWriter(t, s, release)
	const bumps = 10
	var wg sync.WaitGroup
	errs := make([]error, bumps)
	for i := range bumps {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(tx *Tx) error {
				_, err := tx.BumpGeneration(ctx, n.ID)
				return err
			})
		})
	}
	var failErr, cancelErr error
	var recovered any
	wg.Go(func() {
		failErr = s.InTx(ctx, func(tx *Tx) error {
			if err := tx.SetNodeEnabled(ctx, n.ID, false); err != nil {
				return err
			}
			return failing
		})
	})
	wg.Go(func() {
		defer func() { recovered = recover() }()
		_ = s.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.BumpGeneration(ctx, n.ID); err != nil {
				return err
			}
			panic("inside a batched transaction")
		})
	})
	cctx, cancel := context.WithCancel(ctx)
	wg.Go(func() {
		cancelErr = s.InTx(cctx, func(tx *Tx) error {
			_, err := tx.BumpGeneration(cctx, n.ID)
			cancel() // ends while the function runs: its change must not commit
			return err
		})
	})
	// Let every call queue behind the holding transaction (no timing is
	// asserted: any of them arriving later only makes a smaller batch).
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("bump %d: %v", i, err)
		}
	}
	if !errors.Is(failErr, failing) {
		t.Errorf("the failing function: err %v, want its own error", failErr)
	}
	if recovered != "inside a batched transaction" {
		t.Errorf("the panicking function's caller recovered %v, want its panic", recovered)
	}
	if !errors.Is(cancelErr, context.Canceled) {
		t.Errorf("the function whose ctx ended: err %v, want context.Canceled", cancelErr)
	}
	got, err := s.GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DesiredGeneration != n.DesiredGeneration+bumps {
		t.Errorf("desired generation %d, want %d: only the %d good bumps", got.DesiredGeneration, n.DesiredGeneration+bumps, bumps)
	}
	if !got.Enabled {
		t.Error("the failing function's change was committed")
	}
}

// TestGroupCommitNestedCallRefused: inside a function run by the
// writer, a Store call still fails with ErrNestedTx (the writer's
// goroutine is the transaction's owner), and the function's own change
// commits.
func TestGroupCommitNestedCallRefused(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	n := mustCreateNode(t, s, testNode("n1"))
	release := make(chan struct{})
	wait := holdWriter(t, s, release)
	var inner error
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(ctx, func(tx *Tx) error {
			_, inner = s.GetNode(ctx, n.ID)
			return tx.SetNodeEnabled(ctx, n.ID, false)
		})
	}()
	close(release)
	wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a Store call inside a batched function has not returned: deadlock")
	}
	if !errors.Is(inner, ErrNestedTx) {
		t.Errorf("GetNode inside InTx: %v, want ErrNestedTx", inner)
	}
	if got, err := s.GetNode(ctx, n.ID); err != nil || got.Enabled {
		t.Errorf("the function's change was not committed (%v)", err)
	}
}

// TestGroupCommitAfterClose: InTx on a closed store fails instead of
// waiting for a writer that has stopped.
func TestGroupCommitAfterClose(t *testing.T) {
	s, _, _ := openTest(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.InTx(context.Background(), func(*Tx) error { return nil }) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("InTx after Close succeeded")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("InTx after Close has not returned")
	}
}

// TestGroupCommitAloneFunction: a function alone in its batch (calls one
// after another on an idle store) runs without a savepoint of its own
// (runAlone), and is still what InTx promises: one that fails, panics or
// whose ctx ended changes nothing, its caller gets its error or panic, and
// the store goes on; one that succeeds is committed.
func TestGroupCommitAloneFunction(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	n := mustCreateNode(t, s, testNode("n1"))
	failing := errors.New("this function fails")
	generation := func() int64 {
		t.Helper()
		got, err := s.GetNode(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.DesiredGeneration
	}
	bump := func(ctx context.Context, tx *Tx) {
		t.Helper()
		if _, err := tx.BumpGeneration(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
	}
	gen := generation()

	if err := s.InTx(ctx, func(tx *Tx) error { bump(ctx, tx); return failing }); !errors.Is(err, failing) {
		t.Errorf("the failing function: err %v, want its own error", err)
	}
	if got := generation(); got != gen {
		t.Errorf("after the failing function: generation %d, want %d", got, gen)
	}

	func() {
		defer func() {
			if p := recover(); p != "alone in its batch" {
				t.Errorf("the panicking function's caller recovered %v, want its panic", p)
			}
		}()
		_ = s.InTx(ctx, func(tx *Tx) error { bump(ctx, tx); panic("alone in its batch") })
	}()
	if got := generation(); got != gen {
		t.Errorf("after the panicking function: generation %d, want %d", got, gen)
	}

	cctx, cancel := context.WithCancel(ctx)
	err := s.InTx(cctx, func(tx *Tx) error {
		bump(cctx, tx)
		cancel() // ends while the function runs: its change must not commit
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("the function whose ctx ended: err %v, want context.Canceled", err)
	}
	if got := generation(); got != gen {
		t.Errorf("after the function whose ctx ended: generation %d, want %d", got, gen)
	}

	if err := s.InTx(ctx, func(tx *Tx) error { bump(ctx, tx); return nil }); err != nil {
		t.Fatalf("the good function: %v", err)
	}
	if got := generation(); got != gen+1 {
		t.Errorf("after the good function: generation %d, want %d", got, gen+1)
	}
}
