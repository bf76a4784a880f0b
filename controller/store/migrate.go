package store

import (
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/sqlite3"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Migrations are append-only: a released file is never edited, a change to
// the schema is a new file with the next number. There are no .down.sql
// files on purpose: the controller only ever moves forward, and an
// untested down path over a database holding sealed secrets is a way to
// lose them. To undo a change, write a new up migration.
//
// Each file runs in one transaction (golang-migrate's sqlite3 driver), with
// foreign keys on; a migration that rebuilds a table must use
// "PRAGMA defer_foreign_keys = ON" rather than turning them off.
//
// The files are SQLite's. PostgreSQL runs each one translated (dialect.go)
// or, where the translation would be unreadable, the file of the same name
// in migrations/postgres/ (pgmigrate.go).
//
//go:embed migrations/*.up.sql
var migrationFiles embed.FS

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.up\.sql$`)

// migrationVersions lists the versions of the embedded migrations in
// order.
func migrationVersions() ([]uint, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var vs []uint
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_name.up.sql", e.Name())
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		vs = append(vs, uint(v))
	}
	slices.Sort(vs)
	return vs, nil
}

// latestVersion is the schema version this binary migrates to.
func latestVersion() (uint, error) {
	vs, err := migrationVersions()
	if err != nil {
		return 0, err
	}
	if len(vs) == 0 {
		return 0, errors.New("store: no migrations embedded")
	}
	return vs[len(vs)-1], nil
}

// migrateUp brings the schema of db to the latest version.
func migrateUp(db *sql.DB) error {
	latest, err := latestVersion()
	if err != nil {
		return err
	}
	return migrateTo(db, latest)
}

// migrateTo brings the schema of the SQLite database db up to version v.
// It refuses a database that is dirty (a migration failed half-way) or
// newer than this binary.
func migrateTo(db *sql.DB, v uint) error {
	src, err := iofs.New(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("store: reading migrations: %w", err)
	}
	// Only the source is closed when we are done: migrate.Close would also
	// close the driver, and with it the *sql.DB the store keeps using.
	defer src.Close()
	drv, err := sqlite3.WithInstance(db, &sqlite3.Config{})
	if err != nil {
		return fmt.Errorf("store: preparing migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite3", drv)
	if err != nil {
		return fmt.Errorf("store: preparing migrations: %w", err)
	}
	return runMigrations(m, v)
}

// runMigrations brings m's database up to version v, refusing one that is
// dirty or newer than this binary.
func runMigrations(m *migrate.Migrate, v uint) error {
	latest, err := latestVersion()
	if err != nil {
		return err
	}
	cur, dirty, err := m.Version()
	switch {
	case errors.Is(err, migrate.ErrNilVersion):
	case err != nil:
		return fmt.Errorf("store: reading schema version: %w", err)
	case dirty:
		return fmt.Errorf("store: schema version %d is dirty: a migration failed part-way; restore a backup", cur)
	case cur > latest:
		return fmt.Errorf("store: schema version %d is newer than this binary knows (%d); run a newer wg-controller", cur, latest)
	case cur >= v:
		return nil
	}
	if err := m.Migrate(v); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("store: migrating schema to version %d: %w", v, err)
	}
	return nil
}
