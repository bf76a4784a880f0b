package store

import (
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"testing/fstest"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// pgOverrideFiles are the migrations PostgreSQL runs instead of the
// translation of the SQLite file of the same name, where a translation
// would be unreadable (a table rebuild, a JSON backfill). Keep them few;
// each says why it exists.
//
//go:embed migrations/postgres/*.up.sql
var pgOverrideFiles embed.FS

// pgMigrations returns the migrations as PostgreSQL runs them: every file
// of migrations/ translated by toPostgres, with the shims it needs in
// front, or its override from migrations/postgres/. An override without
// a SQLite file of the same name is an error, and so is a file that does
// not translate: the error names the file, the line and the construct.
func pgMigrations() (fs.FS, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("store: reading migrations: %w", err)
	}
	overrides, err := fs.ReadDir(pgOverrideFiles, "migrations/postgres")
	if err != nil {
		return nil, fmt.Errorf("store: reading PostgreSQL migrations: %w", err)
	}
	out := fstest.MapFS{} // an in-memory fs.FS, for golang-migrate's iofs source
	for _, e := range entries {
		out[e.Name()] = nil
	}
	for _, e := range overrides {
		if _, ok := out[e.Name()]; !ok {
			return nil, fmt.Errorf("store: migrations/postgres/%s overrides no migration of that name in migrations/", e.Name())
		}
		b, err := fs.ReadFile(pgOverrideFiles, path.Join("migrations/postgres", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: reading PostgreSQL migrations: %w", err)
		}
		out[e.Name()] = &fstest.MapFile{Data: b, Mode: 0o444}
	}
	for _, e := range entries {
		if out[e.Name()] != nil {
			continue
		}
		b, err := fs.ReadFile(migrationFiles, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: reading migrations: %w", err)
		}
		tr, err := toPostgres(string(b))
		if err != nil {
			return nil, fmt.Errorf("store: migration %s on PostgreSQL: %w; make it portable or write migrations/postgres/%s "+
				"(docs/ARCHITECTURE.md, \"One schema, two dialects\")", e.Name(), err, e.Name())
		}
		sql := tr.sql
		if tr.needsJSONValid {
			sql = pgShimJSONValid + sql
		}
		if tr.needsCitext {
			sql = pgShimCitext + sql
		}
		out[e.Name()] = &fstest.MapFile{Data: []byte(sql), Mode: 0o444}
	}
	return out, nil
}

// pgMigrateTo brings the schema of the PostgreSQL database at url up to
// version v, with the same refusals as migrateTo. It uses a connection
// pool of its own, closed when done (golang-migrate's driver holds one
// connection until it is closed, and closes its pool with it). Several
// controllers starting at once are safe: golang-migrate holds an advisory
// lock while it migrates.
func pgMigrateTo(url string, v uint) error {
	files, err := pgMigrations()
	if err != nil {
		return err
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return fmt.Errorf("store: opening %s for migrations: %w", redactURL(url), err)
	}
	src, err := iofs.New(files, ".")
	if err != nil {
		db.Close()
		return fmt.Errorf("store: reading migrations: %w", err)
	}
	drv, err := pgx.WithInstance(db, &pgx.Config{})
	if err != nil {
		src.Close()
		db.Close()
		return fmt.Errorf("store: preparing migrations on %s: %w", redactURL(url), err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		src.Close()
		drv.Close()
		return fmt.Errorf("store: preparing migrations: %w", err)
	}
	err = runMigrations(m, v)
	if serr, derr := m.Close(); err == nil {
		err = errors.Join(serr, derr)
	}
	return err
}
