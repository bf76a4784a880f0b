// Package store keeps the controller's state in SQLite (the default, a
// file in the data directory) or PostgreSQL (for several controllers on one
// database): nodes, peers and their IP allocations, users, sessions, API
// tokens and the audit log. It is the only package that speaks SQL.
//
// The schema is created and upgraded by embedded, append-only migrations
// (migrations/NNNN_name.up.sql) run by Open. Migrations and queries are
// written once, in SQLite's SQL; on PostgreSQL they are translated by a
// small, explicit dialect layer (dialect.go), with an override file in
// migrations/postgres/ where a translation would be unreadable. Secrets (node HMAC secrets,
// peer private and preshared keys) travel in the models as plaintext and
// are sealed with secretbox on write and opened on read, each bound to its
// row and column, so the database file never holds them in clear.
// Store.Reseal moves them all to a new master key in one transaction.
//
// Every method takes a context and runs in a transaction: a method that
// only reads runs in a read-only one (Store.View), which on SQLite uses
// connections of its own beside the one writer, so reads neither wait for
// writes nor hold them up. Store.InTx gives a caller a Tx with the same
// methods for multi-step changes that must happen atomically, Store.View
// one for several reads that must agree.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver

	"github.com/wgfleet/wgfleet/controller/secretbox"
)

// Store is the controller's database. It is safe for concurrent use.
type Store struct {
	// db runs the write transactions (InTx): on SQLite its one
	// connection.
	db *sql.DB
	// rdb runs the read-only transactions (View): on SQLite a pool of
	// read-only connections to the same file, on PostgreSQL db itself.
	rdb *sql.DB
	// readOpts are the options of a read-only transaction.
	readOpts *sql.TxOptions
	// w runs the write transactions (InTx) of a store opened by Open,
	// several to a commit (groupcommit.go); nil: InTx runs them itself.
	w   *writer
	now func() time.Time // the clock; tests replace it
	// pg holds the PostgreSQL translations of the store's statements; nil
	// on SQLite.
	pg *pgQueries

	// boxMu guards box: every transaction holds it for reading, Reseal
	// for writing, so no transaction seals under a key Reseal replaces.
	boxMu sync.RWMutex
	box   *secretbox.Box

	// owner is the id of the goroutine running fn inside a write
	// transaction, 0 when none; viewers counts the functions given to View
	// running now: so a Store call from inside InTx or View fails with
	// ErrNestedTx instead of waiting for the connection its own
	// transaction holds, or reading past it (nested.go).
	owner   atomic.Uint64
	viewers atomic.Int64

	// hints spare a creation the read of its node's addresses
	// (allochint.go); nil: none kept.
	hints *allocHints

	closeOnce sync.Once
	closeErr  error
}

// dsnParams are the mattn/go-sqlite3 connection parameters: WAL so readers
// of the file (backups, sqlite3 CLI) do not block the controller, foreign
// keys enforced, a busy timeout for other processes holding the file, and
// BEGIN IMMEDIATE so a transaction takes the write lock up front instead of
// failing with SQLITE_BUSY when it upgrades from reading to writing; and a
// cache of prepared statements on the connection: the store's queries are a
// fixed set, and preparing each anew took a sixth of the controller's CPU
// under load, with the one connection held (docs/BENCHMARKS.md); and a
// page cache of up to writerCacheKiB instead of SQLite's 2 MiB: a peer's
// creation updates four indexes keyed by its node, at pages spread over
// the whole table, which at 100k peers (tens of MiB of table and indexes)
// a 2 MiB cache mostly misses, each miss a read of the file (or its WAL)
// while the writer holds every write up. Only the writer's cache lasts:
// a reader's is dropped whenever another connection committed, and here
// the writer commits many times a second, so the readers keep the default.
const dsnParams = "_journal_mode=WAL&_foreign_keys=on&_busy_timeout=5000&_txlock=immediate&_stmt_cache_size=128&_cache_size=-" + writerCacheKiB

// writerCacheKiB bounds the writer connection's page cache, in KiB
// (PRAGMA cache_size, negative: KiB): memory the controller holds once the
// database has grown past it.
const writerCacheKiB = "32768"

// readerParams are the parameters of the read-only connections (View):
// the file is in WAL mode already (the writer made it so), a plain BEGIN
// takes no lock until the first read, which fixes the snapshot the whole
// transaction reads, and query_only refuses any write, so a Tx method
// that writes fails in a View instead of racing the writer.
const readerParams = "_busy_timeout=5000&_txlock=deferred&_stmt_cache_size=128&_query_only=1"

// maxReaders bounds the read-only connections on SQLite. In WAL mode
// readers never wait for the writer nor for each other; a few more than
// the CPUs keep them busy while some wait on the Go side.
const maxReaders = 8

// Open opens the database at dsn, runs any pending migrations and checks
// that box holds the master key the database's secrets were sealed with.
// box must not be nil.
//
// dsn is a PostgreSQL URL (postgres://... or postgresql://..., see
// IsPostgresURL), whose database must exist (it may be empty), or else the
// path of a SQLite file, created if needed.
func Open(ctx context.Context, dsn string, box *secretbox.Box) (*Store, error) {
	if box == nil {
		return nil, errors.New("store: no secretbox")
	}
	s := &Store{box: box, now: time.Now, hints: newAllocHints()}
	if IsPostgresURL(dsn) {
		latest, err := latestVersion()
		if err != nil {
			return nil, err
		}
		if s.db, err = openPostgres(ctx, dsn); err != nil {
			return nil, err
		}
		if err := pgMigrateTo(dsn, latest); err != nil {
			s.db.Close()
			return nil, err
		}
		s.pg = &pgQueries{}
		// Read-only transactions take no lock (txLockKey) and read one
		// snapshot of the database.
		s.rdb = s.db
		s.readOpts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	} else {
		db, err := openDB(ctx, dsn)
		if err != nil {
			return nil, err
		}
		if err := migrateUp(db); err != nil {
			db.Close()
			return nil, err
		}
		s.db = db
		if s.rdb, err = openReaders(ctx, dsn); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := s.checkMasterKey(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	s.startWriter()
	return s, nil
}

// openDB opens the database with the connection settings the store
// relies on, and verifies they took effect.
func openDB(ctx context.Context, path string) (*sql.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store: database path %q must be non-empty and free of '?' and '#'", path)
	}
	if strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: database path %q must be a file name, not a URI", path)
	}
	// The file holds sealed secrets and credential hashes: make it 0600
	// before SQLite creates it with the process umask (its -wal and -shm
	// files take the main file's mode).
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("store: creating %s: %w", path, err)
	}
	db, err := sql.Open("sqlite3", path+"?"+dsnParams)
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	// One connection for writing. SQLite in WAL mode serializes writers
	// anyway; with a single connection our own write transactions queue in
	// database/sql (which honours ctx) instead of spinning in SQLite's busy
	// handler. Reads run beside it on connections of their own
	// (openReaders). The price: code running inside InTx must use only its
	// Tx; calling a Store method there would wait forever for the
	// connection the Tx holds (ErrNestedTx).
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	var mode string
	var fk int
	err = db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
	if err == nil {
		err = db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	if mode != "wal" || fk != 1 {
		db.Close()
		return nil, fmt.Errorf("store: opening %s: journal_mode=%s foreign_keys=%d, want wal and 1", path, mode, fk)
	}
	return db, nil
}

// openReaders opens the pool of read-only connections to the SQLite file
// at path, which openDB has opened (and so made, in WAL mode) before.
func openReaders(ctx context.Context, path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite3", path+"?"+readerParams)
	if err != nil {
		return nil, fmt.Errorf("store: opening %s for reading: %w", path, err)
	}
	db.SetMaxOpenConns(maxReaders)
	db.SetMaxIdleConns(maxReaders)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	var mode string
	var ro int
	err = db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
	if err == nil {
		err = db.QueryRowContext(ctx, "PRAGMA query_only").Scan(&ro)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: opening %s for reading: %w", path, err)
	}
	if mode != "wal" || ro != 1 {
		db.Close()
		return nil, fmt.Errorf("store: opening %s for reading: journal_mode=%s query_only=%d, want wal and 1", path, mode, ro)
	}
	return db, nil
}

// Close closes the database. It is idempotent; later calls return the
// first call's result. No method may be called after Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopWriter()
		if s.pg == nil {
			// Best effort: let SQLite refresh its planner statistics.
			_, _ = s.db.Exec("PRAGMA optimize")
		}
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

// closeDBs closes the readers' pool, if it is one of its own, then the
// writer's.
func (s *Store) closeDBs() error {
	var err error
	if s.rdb != nil && s.rdb != s.db {
		err = s.rdb.Close()
	}
	return errors.Join(err, s.db.Close())
}

// keyCheck is the meta row holding a sealed canary.
const (
	keyCheckKey   = "master_key_check"
	keyCheckAAD   = "meta:master_key_check"
	keyCheckValue = "wgfleet master key check"
)

// checkMasterKey opens the canary sealed under the master key on first
// start, so a wrong key fails Open with a clear error instead of failing
// every later read of a secret. On a fresh database it seals the canary.
func (s *Store) checkMasterKey(ctx context.Context) error {
	return s.InTx(ctx, func(tx *Tx) error {
		var sealed string
		err := tx.tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", keyCheckKey).Scan(&sealed)
		if errors.Is(err, sql.ErrNoRows) {
			if sealed, err = tx.box.Seal([]byte(keyCheckValue), keyCheckAAD); err != nil {
				return fmt.Errorf("store: sealing master key check: %w", err)
			}
			_, err = tx.tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?)", keyCheckKey, sealed)
			if err != nil {
				return fmt.Errorf("store: writing master key check: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: reading master key check: %w", err)
		}
		pt, err := tx.box.Open(sealed, keyCheckAAD)
		if err == nil && string(pt) != keyCheckValue {
			err = errors.New("the check value differs")
		}
		if err != nil {
			return fmt.Errorf("store: %w: %w", ErrWrongMasterKey, err)
		}
		return nil
	})
}
