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
// function given to InTx or View and must not be shared between
// goroutines.
type Tx struct {
	tx  sqlTx
	box *secretbox.Box
	now time.Time // one timestamp for everything the transaction writes
	// hints are the Store's allocation hints (allochint.go); nil in a
	// read-only transaction and where none are kept.
	hints *allocHints
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
// A store opened by Open runs fn on its writer goroutine, in one
// transaction with the other functions waiting at the same time, each in
// a savepoint of its own, under one commit (group commit, groupcommit.go):
// what is said above holds for each function, and a panic in fn is
// raised again on the caller's goroutine.
//
// Lock order: boxMu (read), then the connection. Reseal takes boxMu for
// writing, then the connection.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	if s.w != nil {
		return s.submitTx(ctx, fn)
	}
	s.boxMu.RLock()
	defer s.boxMu.RUnlock()
	return s.runTx(ctx, s.box, fn)
}

// runTx is InTx with the box the Tx seals and opens with, on the calling
// goroutine; the caller holds boxMu. While fn runs, that goroutine is the
// store's owner.
func (s *Store) runTx(ctx context.Context, box *secretbox.Box, fn func(tx *Tx) error) error {
	g := goroutineID()
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
	err = callWriteFn(fn, &Tx{tx: sqlTx{tx: stx, pg: s.pg}, box: box, now: unixTime(s.now().Unix()), hints: s.hints})
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

// View runs fn in a read-only transaction: everything fn reads comes from
// one snapshot of the database, taken at its first read, and fn sees every
// write transaction committed before View was called. A read-only
// transaction takes no write lock: on SQLite it runs on a connection of
// its own beside the writer's (WAL), on PostgreSQL without the
// transaction lock (REPEATABLE READ, READ ONLY); so reads neither wait for
// InTx's transactions nor hold them up. A Tx method that writes fails
// inside fn (SQLite: "attempt to write a readonly database"), and nothing
// fn does is committed.
//
// As with InTx, fn must use only tx: a Store method (InTx, View) called
// inside fn returns ErrNestedTx.
func (s *Store) View(ctx context.Context, fn func(tx *Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.boxMu.RLock()
	defer s.boxMu.RUnlock()
	db, opts := s.rdb, s.readOpts
	if db == nil { // a store made only to be written to (copy.go)
		db, opts = s.db, nil
	}
	stx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin reading: %w", err)
	}
	defer func() { _ = stx.Rollback() }()
	s.viewers.Add(1)
	defer s.viewers.Add(-1)
	return callReadFn(fn, &Tx{tx: sqlTx{tx: stx, pg: s.pg}, box: s.box, now: unixTime(s.now().Unix())})
}

// view runs a one-result read in a read-only transaction (View); the
// Store's reading methods are built from their Tx counterparts with it.
func view[T any](ctx context.Context, s *Store, fn func(tx *Tx) (T, error)) (T, error) {
	var out T
	err := s.View(ctx, func(tx *Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
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
