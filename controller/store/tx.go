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
	tx  *sql.Tx
	box *secretbox.Box
	now time.Time // one timestamp for everything the transaction writes
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back when it returns an error or panics. The transaction holds the write
// lock from the start (BEGIN IMMEDIATE), so what fn reads stays true until
// it commits.
//
// fn must use only tx: calling a Store method inside fn blocks forever,
// because the store has a single connection and tx holds it. fn should be
// short and must not wait on the network.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	s.boxMu.RLock()
	defer s.boxMu.RUnlock()
	return s.runTx(ctx, s.box, fn)
}

// runTx is InTx with the box the Tx seals and opens with; the caller
// holds boxMu.
func (s *Store) runTx(ctx context.Context, box *secretbox.Box, fn func(tx *Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(&Tx{tx: sqlTx, box: box, now: unixTime(s.now().Unix())}); err != nil {
		if rerr := sqlTx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("store: rollback: %w", rerr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
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
