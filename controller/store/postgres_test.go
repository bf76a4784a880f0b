package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestPostgresMigratesEmptyDatabase runs every migration, translated, on
// an empty PostgreSQL database (the other tests start from a migrated
// template) and checks the schema's rules hold there as on SQLite.
func TestPostgresMigratesEmptyDatabase(t *testing.T) {
	if !onPostgres() {
		t.Skip("about PostgreSQL; runs in the PostgreSQL run")
	}
	ctx := context.Background()
	dsn, err := pgCluster.CreateEmptyDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := openAt(t, dsn, testBox(t, 1))
	latest, err := latestVersion()
	if err != nil {
		t.Fatal(err)
	}
	var version int
	var dirty bool
	if err := s.db.QueryRowContext(ctx, "SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty); err != nil {
		t.Fatal(err)
	}
	if uint(version) != latest || dirty {
		t.Fatalf("schema version %d dirty=%v, want %d clean", version, dirty, latest)
	}
	// COLLATE NOCASE became citext: names are unique and found in any case.
	mustCreateNode(t, s, testNode("Fra1"))
	if _, err := s.CreateNode(ctx, testNode("fRA1")); !errors.Is(err, ErrConflict) {
		t.Fatalf("second node fRA1 = %v, want ErrConflict", err)
	}
	if _, err := s.GetNodeByName(ctx, "FRA1"); err != nil {
		t.Fatal(err)
	}
	// json_valid's shim enforces the CHECK on the audit log's details.
	_, err = rawExec(ctx, s, "INSERT INTO audit_log (at, actor, action, details) VALUES (1, 'x', 'y', 'not json')")
	if err == nil || !strings.Contains(err.Error(), "check") {
		t.Fatalf("audit row with invalid JSON details = %v, want a CHECK violation", err)
	}
	// Integers are 64-bit, as in SQLite.
	if _, err := rawExec(ctx, s, "UPDATE peers SET rx_total = ? WHERE id = 0", int64(1)<<40); err != nil {
		t.Fatal(err)
	}
}
