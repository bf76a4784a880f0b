package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wgfleet/wgfleet/controller/secretbox"
)

// Tx is one database transaction. It has the same entity methods as Store;
// they all run inside the transaction. A Tx is valid only inside the
// function given to InTx and must not be shared between goroutines.
type Tx struct {
	tx  sqlTx
	box *secretbox.Box
	now time.Time // one timestamp for everything the transaction writes
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back when it returns an error or panics. The transaction holds the write
// lock from the start (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
// transaction lock that every transaction of every controller on the
// database takes first), so what fn reads stays true until it commits, and
// fn runs exactly once.
//
// fn must use only tx. On SQLite the store has a single connection and tx
// holds it; on PostgreSQL tx holds the lock: a Store method (or InTx)
// called inside fn would wait forever; it returns ErrNestedTx instead. fn
// should be short and must not wait on the network.
//
// Lock order: boxMu (read), then the connection. Reseal takes boxMu for
// writing, then the connection.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	g, err := s.enter()
	if err != nil {
		return err
	}
	s.boxMu.RLock()
	defer s.boxMu.RUnlock()
	return s.runTx(ctx, g, s.box, fn)
}

// runTx is InTx with the box the Tx seals and opens with; the caller
// holds boxMu and passes its goroutine id from enter. While fn runs, that
// goroutine is the store's owner.
func (s *Store) runTx(ctx context.Context, g uint64, box *secretbox.Box, fn func(tx *Tx) error) error {
	stx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if s.pg != nil {
		if _, err := stx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", txLockKey); err != nil {
			_ = stx.Rollback()
			return fmt.Errorf("store: begin: taking the transaction lock: %w", err)
		}
	}
	s.owner.Store(g)
	defer func() {
		if p := recover(); p != nil {
			s.owner.Store(0)
			_ = stx.Rollback()
			panic(p)
		}
	}()
	err = fn(&Tx{tx: sqlTx{tx: stx, pg: s.pg}, box: box, now: unixTime(s.now().Unix())})
	s.owner.Store(0) // before the connection is released to another goroutine
	if err != nil {
		if rerr := stx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("store: rollback: %w", rerr))
		}
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// inTx runs a one-result method in its own transaction; the Store's
// methods are built from their Tx counterparts with it.
func inTx[T any](ctx context.Context, s *Store, fn func(tx *Tx) (T, error)) (T, error) {
	var out T
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}
