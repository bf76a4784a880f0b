package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/wgfleet/wgfleet/controller/secretbox"
)

// TableCount is how many rows a table holds.
type TableCount struct {
	Table string
	Rows  int64
}

// CopyReport is what Copy copied: every table, in the order it was
// copied (parents before the tables that refer to them).
type CopyReport struct {
	Tables []TableCount
}

// Copy copies every row of the database at from into the empty database at
// to (each a PostgreSQL URL or a SQLite file, as Open takes them): the
// move of an install from SQLite to PostgreSQL and back.
//
// The source is opened as Open opens it (migrated to this binary's schema;
// box must hold its master key). The target must hold no rows: a new or
// empty file, or a PostgreSQL database with no table that holds a row
// (a copy that failed part-way left nothing). Its schema is made by the
// migrations, then every table is copied in one transaction, ids
// included; sealed values are copied as they are (they stay sealed under
// the same master key, bound to the same ids). The sequences that hand
// out ids start above the highest id the source ever handed out, deleted
// ones included. Afterwards the rows of every table are counted on both
// sides, and the target is opened under box and every sealed value in it
// opened, so a copy that returns nil is complete and readable.
//
// Nothing may write to the source meanwhile: stop the controller first.
func Copy(ctx context.Context, from, to string, box *secretbox.Box) (CopyReport, error) {
	if from == to {
		return CopyReport{}, errors.New("store: copy: source and target are the same database")
	}
	if !IsPostgresURL(from) {
		if _, err := os.Stat(from); err != nil {
			return CopyReport{}, fmt.Errorf("store: copy: the source: %w", err)
		}
	}
	src, err := Open(ctx, from, box)
	if err != nil {
		return CopyReport{}, fmt.Errorf("store: copy: opening the source: %w", err)
	}
	defer src.Close()
	dst, err := openEmptyTarget(ctx, to)
	if err != nil {
		return CopyReport{}, err
	}
	report, err := copyRows(ctx, src, dst)
	if cerr := dst.db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store: copy: closing the target: %w", cerr)
	}
	if err != nil {
		return CopyReport{}, err
	}
	if err := verifyCopy(ctx, to, box); err != nil {
		return CopyReport{}, err
	}
	return report, nil
}

// openEmptyTarget opens the database at dsn, refuses it if any table holds
// a row, and migrates it to the latest schema, without the master key
// check row (which is copied from the source).
func openEmptyTarget(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{}
	var err error
	if IsPostgresURL(dsn) {
		s.pg = &pgQueries{}
		s.db, err = openPostgres(ctx, dsn)
	} else {
		s.db, err = openDB(ctx, dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("store: copy: opening the target: %w", err)
	}
	counts, err := s.tableCounts(ctx, s.db)
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: copy: reading the target: %w", err)
	}
	for _, c := range counts {
		if c.Rows > 0 {
			s.db.Close()
			return nil, fmt.Errorf("store: copy: the target is not empty: table %s holds %d rows; copy only into an empty database", c.Table, c.Rows)
		}
	}
	latest, err := latestVersion()
	if err == nil {
		if s.pg != nil {
			err = pgMigrateTo(dsn, latest)
		} else {
			err = migrateTo(s.db, latest)
		}
	}
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: copy: making the target's schema: %w", err)
	}
	return s, nil
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// tables lists the store's tables in q (not golang-migrate's, not
// SQLite's own), parents before the tables whose foreign keys point at
// them.
func (s *Store) tables(ctx context.Context, q querier) ([]string, error) {
	var names []string
	listQ := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'schema_migrations' ORDER BY name`
	if s.pg != nil {
		listQ = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY table_name`
	}
	if err := queryStrings(ctx, q, &names, listQ); err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	parents := map[string][]string{}
	for _, t := range names {
		var ps []string
		var err error
		if s.pg != nil {
			err = queryStrings(ctx, q, &ps, `SELECT DISTINCT ccu.table_name FROM information_schema.table_constraints tc
				JOIN information_schema.constraint_column_usage ccu
					ON ccu.constraint_name = tc.constraint_name AND ccu.constraint_schema = tc.constraint_schema
				WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema() AND tc.table_name = $1`, t)
		} else {
			err = queryStrings(ctx, q, &ps, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, t)
		}
		if err != nil {
			return nil, fmt.Errorf("reading the foreign keys of %s: %w", t, err)
		}
		parents[t] = ps
	}
	var order []string
	done := map[string]bool{}
	for len(order) < len(names) {
		progress := false
		for _, t := range names {
			if done[t] {
				continue
			}
			ready := true
			for _, p := range parents[t] {
				if p != t && !done[p] {
					ready = false
				}
			}
			if ready {
				order, done[t], progress = append(order, t), true, true
			}
		}
		if !progress {
			return nil, errors.New("the tables' foreign keys form a cycle")
		}
	}
	return order, nil
}

// columns lists table's columns in q, in their order.
func (s *Store) columns(ctx context.Context, q querier, table string) ([]string, error) {
	var cols []string
	var err error
	if s.pg != nil {
		err = queryStrings(ctx, q, &cols, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	} else {
		err = queryStrings(ctx, q, &cols, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", table, err)
	}
	return cols, nil
}

// tableCounts counts the rows of every table in q.
func (s *Store) tableCounts(ctx context.Context, q querier) ([]TableCount, error) {
	tables, err := s.tables(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]TableCount, 0, len(tables))
	for _, t := range tables {
		c := TableCount{Table: t}
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(t)).Scan(&c.Rows); err != nil {
			return nil, fmt.Errorf("counting %s: %w", t, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// copyRows copies every table of src into dst in one transaction of dst,
// reading src in one transaction too, then moves dst's id sequences past
// src's and compares the counts.
func copyRows(ctx context.Context, src, dst *Store) (CopyReport, error) {
	fail := func(err error) (CopyReport, error) { return CopyReport{}, fmt.Errorf("store: copy: %w", err) }
	var opts *sql.TxOptions // SQLite: BEGIN IMMEDIATE on the one connection
	if src.pg != nil {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true} // one snapshot
	}
	stx, err := src.db.BeginTx(ctx, opts)
	if err != nil {
		return fail(fmt.Errorf("reading the source: %w", err))
	}
	defer stx.Rollback()
	dtx, err := dst.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(fmt.Errorf("writing the target: %w", err))
	}
	defer dtx.Rollback()

	tables, err := src.tables(ctx, stx)
	if err != nil {
		return fail(fmt.Errorf("the source: %w", err))
	}
	dstTables, err := dst.tables(ctx, dtx)
	if err != nil {
		return fail(fmt.Errorf("the target: %w", err))
	}
	if a, b := slices.Sorted(slices.Values(tables)), slices.Sorted(slices.Values(dstTables)); !slices.Equal(a, b) {
		return fail(fmt.Errorf("the source has tables %v, the target %v", a, b))
	}
	var report CopyReport
	for _, t := range tables {
		n, err := copyTable(ctx, src, stx, dst, dtx, t)
		if err != nil {
			return fail(err)
		}
		report.Tables = append(report.Tables, TableCount{Table: t, Rows: n})
	}
	for _, t := range tables {
		if err := copySequence(ctx, src, stx, dst, dtx, t); err != nil {
			return fail(err)
		}
	}
	srcCounts, err := src.tableCounts(ctx, stx)
	if err != nil {
		return fail(err)
	}
	dstCounts, err := dst.tableCounts(ctx, dtx)
	if err != nil {
		return fail(err)
	}
	slices.SortFunc(srcCounts, func(a, b TableCount) int { return strings.Compare(a.Table, b.Table) })
	slices.SortFunc(dstCounts, func(a, b TableCount) int { return strings.Compare(a.Table, b.Table) })
	if !slices.Equal(srcCounts, dstCounts) {
		return fail(fmt.Errorf("row counts differ after the copy: source %v, target %v", srcCounts, dstCounts))
	}
	if err := dtx.Commit(); err != nil {
		return fail(fmt.Errorf("committing the target: %w", err))
	}
	return report, nil
}

// copyTable copies the rows of one table, columns by name, and returns
// how many it copied.
func copyTable(ctx context.Context, src *Store, stx *sql.Tx, dst *Store, dtx *sql.Tx, table string) (int64, error) {
	cols, err := src.columns(ctx, stx, table)
	if err != nil {
		return 0, err
	}
	dcols, err := dst.columns(ctx, dtx, table)
	if err != nil {
		return 0, err
	}
	if a, b := slices.Sorted(slices.Values(cols)), slices.Sorted(slices.Values(dcols)); !slices.Equal(a, b) {
		return 0, fmt.Errorf("table %s has columns %v in the source, %v in the target", table, a, b)
	}
	blob, err := dst.blobColumns(ctx, dtx, table)
	if err != nil {
		return 0, err
	}
	quoted := make([]string, len(cols))
	params := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c)
		params[i] = "?"
		if dst.pg != nil {
			params[i] = "$" + strconv.Itoa(i+1)
		}
	}
	list := strings.Join(quoted, ", ")
	rows, err := stx.QueryContext(ctx, "SELECT "+list+" FROM "+quoteIdent(table))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", table, err)
	}
	defer rows.Close()
	ins, err := dtx.PrepareContext(ctx, "INSERT INTO "+quoteIdent(table)+" ("+list+") VALUES ("+strings.Join(params, ", ")+")")
	if err != nil {
		return 0, fmt.Errorf("writing %s: %w", table, err)
	}
	defer ins.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, fmt.Errorf("reading %s: %w", table, err)
		}
		for i, v := range vals {
			// A driver may hand text as bytes; only BLOB/BYTEA columns
			// take bytes.
			if b, ok := v.([]byte); ok && !blob[cols[i]] {
				vals[i] = string(b)
			}
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return 0, fmt.Errorf("writing row %d of %s: %w", n+1, table, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading %s: %w", table, err)
	}
	return n, nil
}

// blobColumns are the columns of table in q that hold bytes.
func (s *Store) blobColumns(ctx context.Context, q querier, table string) (map[string]bool, error) {
	var cols []string
	var err error
	if s.pg != nil {
		err = queryStrings(ctx, q, &cols, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND data_type = 'bytea'`, table)
	} else {
		err = queryStrings(ctx, q, &cols, `SELECT name FROM pragma_table_info(?) WHERE upper(type) = 'BLOB'`, table)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the column types of %s: %w", table, err)
	}
	out := map[string]bool{}
	for _, c := range cols {
		out[c] = true
	}
	return out, nil
}

// idSequence reports whether table in q hands out its ids from a
// sequence that never goes back: an AUTOINCREMENT table on SQLite
// (sqlite_sequence), an identity or serial id column on PostgreSQL; and
// the highest id it has handed out (0 if none).
func (s *Store) idSequence(ctx context.Context, q querier, table string) (high int64, ok bool, err error) {
	var n sql.NullInt64
	if s.pg != nil {
		var seq sql.NullString
		err := q.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, column_name) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $2 AND column_name = 'id'`, quoteIdent(table), table).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !seq.Valid {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		err = q.QueryRowContext(ctx, "SELECT pg_sequence_last_value($1::regclass)", seq.String).Scan(&n)
		return n.Int64, true, err
	}
	var autoinc bool
	err = q.QueryRowContext(ctx, `SELECT sql LIKE '%AUTOINCREMENT%' FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&autoinc)
	if err != nil || !autoinc {
		return 0, false, err
	}
	err = q.QueryRowContext(ctx, "SELECT seq FROM sqlite_sequence WHERE name = ?", table).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return n.Int64, true, err
}

// copySequence starts table's id sequence in dst above the highest id the
// source handed out (deleted rows included) and the highest id copied.
func copySequence(ctx context.Context, src *Store, stx *sql.Tx, dst *Store, dtx *sql.Tx, table string) error {
	_, ok, err := dst.idSequence(ctx, dtx, table)
	if err != nil {
		return fmt.Errorf("reading the id sequence of %s in the target: %w", table, err)
	}
	if !ok {
		return nil
	}
	srcHigh, _, err := src.idSequence(ctx, stx, table)
	if err != nil {
		return fmt.Errorf("reading the id sequence of %s in the source: %w", table, err)
	}
	var maxID sql.NullInt64
	if err := dtx.QueryRowContext(ctx, "SELECT max(id) FROM "+quoteIdent(table)).Scan(&maxID); err != nil {
		return fmt.Errorf("reading the highest id of %s: %w", table, err)
	}
	high := max(srcHigh, maxID.Int64)
	switch {
	case high == 0:
	case dst.pg != nil:
		_, err = dtx.ExecContext(ctx, "SELECT setval(pg_get_serial_sequence($1, 'id'), $2)", quoteIdent(table), high)
	default:
		var res sql.Result
		if res, err = dtx.ExecContext(ctx, "UPDATE sqlite_sequence SET seq = ? WHERE name = ?", high, table); err == nil {
			if n, _ := res.RowsAffected(); n == 0 {
				_, err = dtx.ExecContext(ctx, "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", table, high)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("moving the id sequence of %s to %d: %w", table, high, err)
	}
	return nil
}

// verifyCopy opens the copy under box (the master key check) and opens
// every sealed value in it (node secrets, peer keys, webhook secrets,
// TOTP secrets).
func verifyCopy(ctx context.Context, dsn string, box *secretbox.Box) error {
	s, err := Open(ctx, dsn, box)
	if err != nil {
		return fmt.Errorf("store: copy: opening the copy: %w", err)
	}
	defer s.Close()
	if _, err := s.ListNodes(ctx); err != nil {
		return fmt.Errorf("store: copy: reading the copy's nodes: %w", err)
	}
	if _, err := s.ListAllPeers(ctx); err != nil {
		return fmt.Errorf("store: copy: reading the copy's peers: %w", err)
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.ListWebhooks(ctx); err != nil { // opens every webhook secret
			return err
		}
		users, err := tx.ListUsers(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			if _, err := tx.GetTOTP(ctx, u.ID); err != nil { // opens the TOTP secret
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: copy: reading the copy's webhooks and TOTP secrets: %w", err)
	}
	return nil
}

// queryStrings appends the one-column string rows of a query to out.
func queryStrings(ctx context.Context, q querier, out *[]string, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return err
		}
		*out = append(*out, v)
	}
	return rows.Err()
}

// quoteIdent quotes a table or column name read from the schema.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
