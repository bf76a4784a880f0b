package store

import (
	"context"
	"fmt"
	"time"
)

// BeginFailure counts an attempt (a login or an enrollment) under the
// rate limit scope for key (a 32-byte hash) at now, as a failure until
// CancelFailure forgives it: first it forgets every attempt of any key
// older than window; then, when key already has max attempts inside the
// window, it records nothing and returns false and how long until the
// oldest of them leaves the window. The controller replicas on one
// database share these counts.
func (s *Store) BeginFailure(ctx context.Context, scope string, key []byte, now time.Time, max int, window time.Duration) (retryAfter time.Duration, ok bool, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		at := now.UnixNano()
		if _, err := tx.tx.ExecContext(ctx, "DELETE FROM login_failures WHERE at <= ?", at-window.Nanoseconds()); err != nil {
			return err
		}
		var (
			n      int
			oldest int64
		)
		if err := tx.tx.QueryRowContext(ctx, "SELECT count(*), coalesce(min(at), 0) FROM login_failures WHERE scope = ? AND key_hash = ?",
			scope, key).Scan(&n, &oldest); err != nil {
			return err
		}
		if n >= max {
			retryAfter, ok = time.Duration(oldest+window.Nanoseconds()-at), false
			return nil
		}
		_, err := tx.tx.ExecContext(ctx, "INSERT INTO login_failures (scope, key_hash, at) VALUES (?, ?, ?)", scope, key, at)
		ok = err == nil
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: counting an attempt (%s): %w", scope, err)
	}
	return retryAfter, ok, nil
}

// CancelFailure takes back one attempt BeginFailure counted for key at
// at.
func (s *Store) CancelFailure(ctx context.Context, scope string, key []byte, at time.Time) error {
	err := s.InTx(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `DELETE FROM login_failures WHERE id = (SELECT id FROM login_failures
			WHERE scope = ? AND key_hash = ? AND at = ? ORDER BY id DESC LIMIT 1)`, scope, key, at.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: forgiving an attempt (%s): %w", scope, err)
	}
	return nil
}

// ClearFailures forgets every attempt counted for key.
func (s *Store) ClearFailures(ctx context.Context, scope string, key []byte) error {
	err := s.InTx(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, "DELETE FROM login_failures WHERE scope = ? AND key_hash = ?", scope, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: clearing attempts (%s): %w", scope, err)
	}
	return nil
}

// CountFailures is how many attempts are counted for key now, for tests
// and operators.
func (s *Store) CountFailures(ctx context.Context, scope string, key []byte) (int, error) {
	var n int
	err := s.InTx(ctx, func(tx *Tx) error {
		return tx.tx.QueryRowContext(ctx, "SELECT count(*) FROM login_failures WHERE scope = ? AND key_hash = ?", scope, key).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("store: counting attempts (%s): %w", scope, err)
	}
	return n, nil
}
