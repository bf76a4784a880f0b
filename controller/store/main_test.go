package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wgfleet/wgfleet/internal/testenv/pgtest"
)

// pgCluster is the PostgreSQL cluster of the suite's second run, nil
// during the first. Set only by TestMain, between the runs.
var pgCluster *pgtest.Cluster

// TestMain runs every test twice: on SQLite, then on PostgreSQL (a
// throwaway cluster shared by the tests, a database per store). A test
// gets its database from testDSN, so it runs on whichever backend the run
// is for; a test about SQLite itself (its files, PRAGMAs, migrations from
// old SQLite schemas) calls sqliteOnly. Without the PostgreSQL binaries
// the second run is skipped, unless WGFLEET_REQUIRE_ALL is set.
func TestMain(m *testing.M) {
	code := m.Run()
	c, skipped, err := pgtest.Shared(context.Background())
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "store: the PostgreSQL run cannot start: %v\n", err)
		code = 1
	case c == nil:
		fmt.Printf("store: skipping the PostgreSQL run: %s\n", skipped)
	default:
		fmt.Println("store: the same tests on PostgreSQL")
		if pc := runOnPostgres(m, c); pc != 0 {
			fmt.Println("store: FAIL on PostgreSQL")
			code = pc
		}
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "store: stopping PostgreSQL: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// runOnPostgres runs the tests again with c as their backend.
func runOnPostgres(m *testing.M, c *pgtest.Cluster) int {
	if err := migrateTemplate(c); err != nil {
		fmt.Fprintf(os.Stderr, "store: %v\n", err)
		return 1
	}
	pgCluster = c
	return m.Run()
}

// migrateTemplate migrates a database of c to the latest schema and makes
// it the template of the tests' databases, to spare every test the
// migrations (TestPostgresMigratesEmptyDatabase runs them from empty).
func migrateTemplate(c *pgtest.Cluster) error {
	ctx := context.Background()
	u, err := c.CreateEmptyDatabase(ctx)
	if err != nil {
		return err
	}
	latest, err := latestVersion()
	if err != nil {
		return err
	}
	if err := pgMigrateTo(u, latest); err != nil {
		return err
	}
	return c.SetTemplate(u)
}

// onPostgres reports whether this run of the suite is the PostgreSQL one.
func onPostgres() bool { return pgCluster != nil }

// testDSN is a fresh database for Open on this run's backend: a new
// PostgreSQL database, or a file under t.TempDir.
func testDSN(t testing.TB) string {
	t.Helper()
	if onPostgres() {
		return pgCluster.NewDatabase(t)
	}
	return filepath.Join(t.TempDir(), "controller.db")
}

// sqliteOnly skips, in the PostgreSQL run, a test about SQLite itself.
func sqliteOnly(t testing.TB) {
	t.Helper()
	if onPostgres() {
		t.Skip("about SQLite; it ran in the SQLite run")
	}
}
