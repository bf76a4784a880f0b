package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// sqlTx is the transaction a Tx's methods run their SQL on. The SQL is
// written in SQLite's dialect; on PostgreSQL each statement is translated
// by toPostgres first (dialect.go), once: the store's statements are a
// fixed set, and the translations are kept in pgQueries.
type sqlTx struct {
	// tx is the transaction (*sql.Tx); for a function given to ViewOne,
	// the readers' pool (*sql.DB), each statement on its own.
	tx querier
	pg *pgQueries // nil on SQLite: statements run as written
	// shield keeps the end of a statement's ctx from interrupting it: in
	// a group commit (groupcommit.go) an interrupted statement would roll
	// back the whole transaction, other functions' work with it.
	shield bool
	// ran counts the statements run, for a function given to ViewOne,
	// which may run one (viewone.go); nil elsewhere.
	ran *int
}

// stmtCtx is the context a statement runs under.
func (c sqlTx) stmtCtx(ctx context.Context) context.Context {
	if c.shield {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// pgQueries caches toPostgres's translations of the store's statements.
type pgQueries struct {
	m sync.Map // SQLite text -> pgQuery
}

type pgQuery struct {
	sql string
	err error
}

// translate returns q as the database runs it; for a function given to
// ViewOne, an error from its second statement on.
func (c sqlTx) translate(q string) (string, error) {
	if c.ran != nil {
		if *c.ran++; *c.ran > 1 {
			return "", errSecondStatement
		}
	}
	if c.pg == nil {
		return q, nil
	}
	if v, ok := c.pg.m.Load(q); ok {
		pq := v.(pgQuery)
		return pq.sql, pq.err
	}
	tr, err := toPostgres(q)
	pq := pgQuery{sql: tr.sql, err: err}
	if err != nil {
		pq.err = fmt.Errorf("store: statement on PostgreSQL: %w; write SQL both dialects accept "+
			"(docs/ARCHITECTURE.md, \"One schema, two dialects\")", err)
	}
	c.pg.m.Store(q, pq)
	return pq.sql, pq.err
}

// ExecContext runs a statement that returns no rows. On PostgreSQL its
// Result has no LastInsertId: use INSERT ... RETURNING id.
func (c sqlTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q, err := c.translate(q)
	if err != nil {
		return nil, err
	}
	return c.tx.ExecContext(c.stmtCtx(ctx), q, args...)
}

// QueryContext runs a query that returns rows.
func (c sqlTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q, err := c.translate(q)
	if err != nil {
		return nil, err
	}
	return c.tx.QueryContext(c.stmtCtx(ctx), q, args...)
}

// QueryRowContext runs a query that returns at most one row; its error,
// translation errors included, comes from Scan.
func (c sqlTx) QueryRowContext(ctx context.Context, q string, args ...any) *row {
	q, err := c.translate(q)
	if err != nil {
		return &row{err: err}
	}
	return &row{row: c.tx.QueryRowContext(c.stmtCtx(ctx), q, args...)}
}

// row is a *sql.Row, or the error that kept the query from running.
type row struct {
	row *sql.Row
	err error
}

// Scan is sql.Row's Scan.
func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.row.Scan(dest...)
}
