package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLease: a lease is granted, checked, fenced by its epoch and
// released; taken again, its epoch grows and the old epoch is refused.
func TestLease(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	l, err := s.TryAcquireLease(ctx, "leader", "one")
	if err != nil {
		t.Fatal(err)
	}
	if l.Epoch() != 1 {
		t.Fatalf("first epoch %d, want 1", l.Epoch())
	}
	if err := l.Check(ctx); err != nil {
		t.Fatalf("Check of a held lease = %v", err)
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.CheckEpoch(ctx, "leader", 1) }); err != nil {
		t.Fatalf("CheckEpoch(1) = %v", err)
	}
	l.Release()
	l.Release()
	if err := l.Check(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Check after Release = %v, want ErrLeaseLost", err)
	}
	l2, err := s.TryAcquireLease(ctx, "leader", "one")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Release()
	if l2.Epoch() != 2 {
		t.Fatalf("second epoch %d, want 2", l2.Epoch())
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.CheckEpoch(ctx, "leader", 1) }); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("CheckEpoch with the old epoch = %v, want ErrLeaseLost", err)
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.CheckEpoch(ctx, "other", 1) }); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("CheckEpoch of a lease never taken = %v, want ErrLeaseLost", err)
	}
}

// TestLeaseMovesWhenItsHolderDies: two stores on one PostgreSQL database
// (two controller processes); the second cannot take the lease while the
// first holds it; when the first one's session dies (terminated, as a
// killed process's is dropped), it loses the lease, the second takes it
// with a higher epoch, and the first one's epoch is fenced off.
func TestLeaseMovesWhenItsHolderDies(t *testing.T) {
	if !onPostgres() {
		t.Skip("about PostgreSQL; runs in the PostgreSQL run")
	}
	ctx := context.Background()
	dsn := pgCluster.NewDatabase(t)
	a, _ := openAt(t, dsn, testBox(t, 1))
	b, _ := openAt(t, dsn, testBox(t, 1))
	la, err := a.TryAcquireLease(ctx, "leader", "one")
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release()
	if _, err := b.TryAcquireLease(ctx, "leader", "one"); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("second TryAcquireLease = %v, want ErrLeaseHeld", err)
	}
	var pid int
	if err := b.db.QueryRowContext(ctx, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if err := la.Check(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Check after the session died = %v, want ErrLeaseLost", err)
	}
	var lb *Lease
	deadline := time.Now().Add(10 * time.Second)
	for {
		lb, err = b.TryAcquireLease(ctx, "leader", "one")
		if err == nil || !errors.Is(err, ErrLeaseHeld) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("TryAcquireLease after the holder died = %v", err)
	}
	defer lb.Release()
	if lb.Epoch() <= la.Epoch() {
		t.Fatalf("epoch %d after the takeover, want above %d", lb.Epoch(), la.Epoch())
	}
	err = a.InTx(ctx, func(tx *Tx) error { return tx.CheckEpoch(ctx, "leader", la.Epoch()) })
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("the old holder's CheckEpoch = %v, want ErrLeaseLost", err)
	}
}
