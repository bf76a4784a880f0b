package store

import (
	"context"
	"errors"
	"fmt"
)

// errSecondStatement is what the second statement of a function given to
// ViewOne returns.
var errSecondStatement = errors.New("store: a function given to ViewOne ran a second statement; use View for reads that must agree")

// ViewOne runs fn, a read of exactly one statement, as View does, without
// a transaction around it: fn reads what was committed before ViewOne was
// called, as in View, from one snapshot (a single statement reads one on
// either database), and a Tx method that writes fails inside it.
//
// Why: View's transaction (BEGIN, ROLLBACK, and database/sql's goroutine
// that watches each transaction's context) cost about as much as the
// one-row read inside it (docs/BENCHMARKS.md, controller-fleet): an API
// request's token lookup, the webhook dispatcher's look at its hooks on
// every event, a poll's read of its node's counters pay it for one
// statement each, so on SQLite that statement runs alone on a connection
// of the readers' pool (query_only, as View's are). On PostgreSQL, ViewOne
// is View (a read-only transaction, which refuses writes there).
//
// fn may run one statement: from the second on, each fails with an error
// (fn returns it), so a read that needs two statements to agree cannot
// take this road by mistake. Rows fn queries must be closed before it
// returns. As in View, a Store method called inside fn returns
// ErrNestedTx.
func (s *Store) ViewOne(ctx context.Context, fn func(tx *Tx) error) error {
	if s.pg != nil || s.rdb == nil {
		return s.View(ctx, fn)
	}
	if err := s.enter(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: begin reading: %w", err)
	}
	s.boxMu.RLock()
	defer s.boxMu.RUnlock()
	s.viewers.Add(1)
	defer s.viewers.Add(-1)
	var ran int
	return callReadFn(fn, &Tx{tx: sqlTx{tx: s.rdb, ran: &ran}, box: s.box, now: unixTime(s.now().Unix())})
}

// viewOne runs a one-result read of one statement with ViewOne; the
// Store's reading methods whose read is one statement are built from
// their Tx counterparts with it.
func viewOne[T any](ctx context.Context, s *Store, fn func(tx *Tx) (T, error)) (T, error) {
	var out T
	err := s.ViewOne(ctx, func(tx *Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}
