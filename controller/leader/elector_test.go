package leader

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
)

func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), dsn, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// replica is one Elector running in the background.
type replica struct {
	e     *Elector
	terms atomic.Int32 // work started
	ended atomic.Int32 // work returned
	// cause is why the latest work's context ended.
	cause atomic.Pointer[error]
	done  chan struct{}
	stop  context.CancelFunc // ends Run
}

func start(t *testing.T, st *store.Store, name string, interval, grace time.Duration) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{e: New(Config{Store: st, Name: name, Interval: interval, Grace: grace}), done: make(chan struct{}), stop: cancel}
	go func() {
		defer close(r.done)
		_ = r.e.Run(ctx, func(ctx context.Context) {
			r.terms.Add(1)
			<-ctx.Done()
			cause := context.Cause(ctx)
			r.cause.Store(&cause)
			r.ended.Add(1)
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestElectorOnSQLiteAlwaysLeads: the one process on SQLite leads at
// once, without a grace period, and every write is allowed.
func TestElectorOnSQLiteAlwaysLeads(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db.sqlite"))
	r := start(t, st, "solo", time.Hour, time.Hour)
	waitFor(t, "the work started", 5*time.Second, func() bool { return r.terms.Load() == 1 })
	if !r.e.Leading() {
		t.Fatal("not leading")
	}
	ctx := context.Background()
	if err := r.e.Allow(ctx); err != nil {
		t.Fatalf("Allow = %v", err)
	}
	if err := st.InTx(ctx, func(tx *store.Tx) error { return r.e.Check(ctx, tx) }); err != nil {
		t.Fatalf("Check = %v", err)
	}
	if name, err := r.e.Leader(ctx); err != nil || name != "solo" {
		t.Fatalf("Leader = %q, %v", name, err)
	}
}

// leaseSession returns the pid of the PostgreSQL session holding the
// controller's lease.
func leaseSession(t *testing.T, db *sql.DB) int {
	t.Helper()
	var pid int
	err := db.QueryRow(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
		AND objid = ($1::bigint & 4294967295)::oid AND classid = (($1::bigint >> 32) & 4294967295)::oid`, leaseKeyOf(t)).Scan(&pid)
	if err != nil {
		t.Fatalf("finding the lease's session: %v", err)
	}
	return pid
}

// leaseKeyOf is the advisory lock key of the controller's lease, as the
// store computes it (fnv-64a of "wgfleet.lease.controller").
func leaseKeyOf(t *testing.T) int64 {
	t.Helper()
	h := uint64(14695981039346656037)
	for _, c := range []byte("wgfleet.lease." + LeaseName) {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return int64(h)
}

// TestElectorFailoverOnPostgres: two replicas (each with its own pool) on
// one database: one leads, the other does not and is refused; when the
// leader's session is terminated (as PostgreSQL does for a killed
// process), its work stops, the other takes over after the grace period
// with a higher epoch, and the deposed one is fenced off: Allow refuses
// and its epoch fails Check inside a transaction.
func TestElectorFailoverOnPostgres(t *testing.T) {
	cluster := requirePG(t)
	dsn := cluster.NewDatabase(t)
	ctx := context.Background()
	stA, stB := openStore(t, dsn), openStore(t, dsn)
	const interval = 500 * time.Millisecond
	a := start(t, stA, "a", interval, 2*interval)
	waitFor(t, "a leads", 10*time.Second, func() bool { return a.e.Leading() })
	b := start(t, stB, "b", interval, 2*interval)
	time.Sleep(5 * interval)
	if b.e.Leading() || b.terms.Load() != 0 {
		t.Fatal("b leads beside a")
	}
	if err := b.e.Allow(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("b.Allow = %v, want ErrNotLeader", err)
	}
	if err := stB.InTx(ctx, func(tx *store.Tx) error { return b.e.Check(ctx, tx) }); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("b.Check = %v, want ErrNotLeader", err)
	}
	if err := a.e.Allow(ctx); err != nil {
		t.Fatalf("a.Allow = %v", err)
	}
	for _, e := range []*Elector{a.e, b.e} {
		if name, err := e.Leader(ctx); err != nil || name != "a" {
			t.Fatalf("%s: Leader = %q, %v; want a", e.Name(), name, err)
		}
	}
	epochA := a.e.epoch.Load()

	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("SELECT pg_terminate_backend($1)", leaseSession(t, admin)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's work stopped", 10*time.Second, func() bool { return a.ended.Load() == 1 })
	if cause := a.cause.Load(); cause == nil || !errors.Is(*cause, ErrNotLeader) {
		t.Fatalf("a's work ended by %v, want ErrNotLeader", cause)
	}
	// a is alive and may take the lease again; whoever leads next does
	// so under a higher epoch, and one leads at a time.
	waitFor(t, "a new leader", 10*time.Second, func() bool { return a.e.Leading() || b.e.Leading() })
	if a.e.Leading() && b.e.Leading() {
		t.Fatal("both lead")
	}
	if a.e.Leading() {
		// a came back first: now it stops for good (the process exits)
		// and b takes over.
		a.stop()
		<-a.done
		waitFor(t, "b leads", 10*time.Second, func() bool { return b.e.Leading() })
	}
	if a.e.Leading() {
		t.Fatal("a still leads")
	}
	if b.e.epoch.Load() <= epochA {
		t.Fatalf("b's epoch %d, want above a's first %d", b.e.epoch.Load(), epochA)
	}
	if err := a.e.Allow(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("deposed a.Allow = %v, want ErrNotLeader", err)
	}
	err = stA.InTx(ctx, func(tx *store.Tx) error { return tx.CheckEpoch(ctx, LeaseName, epochA) })
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a's first epoch after the takeover: CheckEpoch = %v, want ErrLeaseLost", err)
	}
	if name, err := a.e.Leader(ctx); err != nil || name != "b" {
		t.Fatalf("a: Leader = %q, %v; want b", name, err)
	}
}

// TestDeposedLeaderNotYetAwareIsFenced: a leader whose session died but
// whose periodic check has not run yet (an hour's interval) is refused at
// its next write: Allow checks the session now and ends the work, and a
// transaction recording a write under its epoch fails once another
// replica holds the lease.
func TestDeposedLeaderNotYetAwareIsFenced(t *testing.T) {
	cluster := requirePG(t)
	dsn := cluster.NewDatabase(t)
	ctx := context.Background()
	stA, stB := openStore(t, dsn), openStore(t, dsn)
	a := start(t, stA, "a", time.Hour, -1)
	waitFor(t, "a leads", 10*time.Second, func() bool { return a.e.Leading() })
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("SELECT pg_terminate_backend($1)", leaseSession(t, admin)); err != nil {
		t.Fatal(err)
	}
	// b takes the lease while a has not looked.
	var lb *store.Lease
	waitFor(t, "b takes the lease", 10*time.Second, func() bool {
		lb, err = stB.TryAcquireLease(ctx, LeaseName, "b")
		return err == nil
	})
	defer lb.Release()
	if !a.e.Leading() {
		t.Fatal("a noticed before it was asked; the test shows nothing")
	}
	err = stA.InTx(ctx, func(tx *store.Tx) error { return a.e.Check(ctx, tx) })
	if !errors.Is(err, store.ErrLeaseLost) || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a.Check after b took the lease = %v, want ErrLeaseLost and ErrNotLeader", err)
	}
	if err := a.e.Allow(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a.Allow after its session died = %v, want ErrNotLeader", err)
	}
	waitFor(t, "a's work stopped", 10*time.Second, func() bool { return a.ended.Load() == 1 })
}
