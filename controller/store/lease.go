package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
)

// ErrLeaseHeld reports that another process holds the lease.
var ErrLeaseHeld = errors.New("store: the lease is held by another process")

// ErrLeaseLost reports that a lease is no longer held: its database
// session ended (the database restarted, the network failed, an operator
// terminated it) or it was released.
var ErrLeaseLost = errors.New("store: the lease was lost")

// Lease is the right of one process among several on one database to do
// something only one may do at a time (poll and reconcile, issue 13).
//
// On PostgreSQL it is a session-level advisory lock held on a connection
// of its own: PostgreSQL releases it when that session ends, so a process
// killed with -9 loses it as soon as the database notices the connection
// is gone. Each acquisition also bumps a counter in the meta table, the
// lease's epoch: a holder that records work with its epoch (CheckEpoch in
// the same transaction) cannot have it accepted after another process has
// taken the lease, even if it has not noticed yet. On SQLite, where one
// process owns the file, the lease is always granted and never lost.
type Lease struct {
	name   string
	holder string
	epoch  int64

	mu   sync.Mutex // guards conn
	conn *sql.Conn  // nil on SQLite, and after Release
}

// leaseKey is the advisory lock key of the lease named name.
func leaseKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("wgfleet.lease." + name))
	return int64(h.Sum64())
}

func leaseEpochKey(name string) string { return "lease_epoch:" + name }

func leaseHolderKey(name string) string { return "lease_holder:" + name }

// Shared reports whether other processes may use the database at the same
// time (PostgreSQL): then leases are real and what one process writes
// another sees only through the database. On SQLite one process owns the
// file.
func (s *Store) Shared() bool { return s.pg != nil }

// TryAcquireLease takes the lease named name for holder (a name shown to
// operators, LeaseHolder) if no other process holds it, or returns
// ErrLeaseHeld. The caller must Release it. On PostgreSQL the lease keeps
// one of the store's pooled connections until then.
func (s *Store) TryAcquireLease(ctx context.Context, name, holder string) (*Lease, error) {
	l := &Lease{name: name, holder: holder}
	if s.pg != nil {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: lease %s: %w", name, err)
		}
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", leaseKey(name)).Scan(&got); err != nil {
			conn.Close()
			return nil, fmt.Errorf("store: lease %s: %w", name, err)
		}
		if !got {
			conn.Close()
			return nil, ErrLeaseHeld
		}
		l.conn = conn
	}
	err := s.InTx(ctx, func(tx *Tx) error {
		var epoch int64
		err := tx.tx.QueryRowContext(ctx, `INSERT INTO meta (key, value) VALUES (?, '1')
			ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)
			RETURNING CAST(value AS INTEGER)`, leaseEpochKey(name)).Scan(&epoch)
		l.epoch = epoch
		if err != nil {
			return err
		}
		_, err = tx.tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, leaseHolderKey(name), holder)
		return err
	})
	if err != nil {
		l.Release()
		return nil, fmt.Errorf("store: lease %s: counting its epoch: %w", name, err)
	}
	return l, nil
}

// Epoch is the lease's fencing counter: higher for every acquisition.
func (l *Lease) Epoch() int64 { return l.epoch }

// Name is the lease's name.
func (l *Lease) Name() string { return l.name }

// LeaseHolder returns the holder named by the last TryAcquireLease of the
// lease named name while some process holds it now, and "" when none
// does (on PostgreSQL: no session holds its advisory lock). On SQLite it
// is the last holder named, if any.
func (s *Store) LeaseHolder(ctx context.Context, name string) (string, error) {
	var holder string
	err := s.InTx(ctx, func(tx *Tx) error {
		err := tx.tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", leaseHolderKey(name)).Scan(&holder)
		if errors.Is(err, sql.ErrNoRows) {
			holder = ""
			return nil
		}
		if err != nil || s.pg == nil {
			return err
		}
		var held bool // PostgreSQL only: not translated
		if err := tx.tx.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
			AND granted AND objid = ($1::bigint & 4294967295)::oid
			AND classid = (($1::bigint >> 32) & 4294967295)::oid AND objsubid = 1)`, leaseKey(name)).Scan(&held); err != nil {
			return err
		}
		if !held {
			holder = ""
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: holder of lease %s: %w", name, err)
	}
	return holder, nil
}

// Check returns nil while the lease is held, ErrLeaseLost once it is not
// (or an error when the database cannot tell now, which a caller should
// take as lost too).
func (l *Lease) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		if l.epoch == 0 {
			return ErrLeaseLost
		}
		return nil // SQLite
	}
	var held bool
	err := l.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
		AND pid = pg_backend_pid() AND granted AND objid = ($1::bigint & 4294967295)::oid
		AND classid = (($1::bigint >> 32) & 4294967295)::oid AND objsubid = 1)`, leaseKey(l.name)).Scan(&held)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLeaseLost, err)
	}
	if !held {
		return ErrLeaseLost
	}
	return nil
}

// Release gives the lease up. It is idempotent.
func (l *Lease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		// Closing the session releases the lock even if the unlock fails.
		_, _ = l.conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", leaseKey(l.name))
		_ = l.conn.Close()
		l.conn = nil
	}
	l.epoch = 0
}

// CheckEpoch returns ErrLeaseLost unless epoch is still the current epoch
// of the lease named name: inside a transaction, it fences off the work of
// a holder that lost the lease.
func (tx *Tx) CheckEpoch(ctx context.Context, name string, epoch int64) error {
	var v string
	err := tx.tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", leaseEpochKey(name)).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: lease %s: %w", name, err)
	}
	if cur, _ := strconv.ParseInt(v, 10, 64); cur != epoch || epoch == 0 {
		return fmt.Errorf("%w: lease %s is at epoch %s, not %d", ErrLeaseLost, name, v, epoch)
	}
	return nil
}
