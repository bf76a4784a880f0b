package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// A PostgreSQL database is named by a URL, postgres://user:password@host/db
// or postgresql://..., with any parameter pgx understands (sslmode,
// host=/unix/socket/dir, ...). The schema is the connection's current
// schema (usually public).

// IsPostgresURL reports whether dsn, as given to Open, names a PostgreSQL
// database (postgres:// or postgresql://) rather than a SQLite file.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// redactURL is url with its password replaced, for messages and logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a PostgreSQL URL that does not parse)"
	}
	return u.Redacted()
}

// Pool sizes on PostgreSQL. Transactions are serialized by txLockKey, so
// more connections than a few only queue in the database instead of in
// database/sql; a few let reads proceed while a connection is being
// re-established.
const (
	pgMaxOpenConns = 8
	pgMaxIdleConns = 4
)

// pgMinVersion is the oldest PostgreSQL the store runs on: 13 made citext
// a trusted extension, which the database's owner may create.
const pgMinVersion = 130000

// txLockKey is the key of the transaction-level advisory lock every
// transaction of the store takes first on PostgreSQL
// (pg_advisory_xact_lock): transactions run one at a time across every
// process sharing the database, as they do on SQLite with one connection
// and BEGIN IMMEDIATE, so what a transaction reads stays true until it
// commits. Its bytes spell "wgfstx" and 1.
const txLockKey int64 = 0x7767_6673_7478_0001

// openPostgres opens a pool on the database at dsn and checks that it
// answers and is recent enough.
func openPostgres(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", redactURL(dsn), err)
	}
	db.SetMaxOpenConns(pgMaxOpenConns)
	db.SetMaxIdleConns(pgMaxIdleConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	var version int
	if err := db.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connecting to %s: %w", redactURL(dsn), err)
	}
	if version < pgMinVersion {
		db.Close()
		return nil, fmt.Errorf("store: %s runs PostgreSQL %d.%d; the controller needs 13 or newer", redactURL(dsn), version/10000, version%10000)
	}
	return db, nil
}
