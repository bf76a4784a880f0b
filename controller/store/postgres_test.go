package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// TestPostgresBackfillsMatchSQLite: the PostgreSQL overrides of the
// migrations that backfill from health_json (0005 server_public_key, 0007
// agent_version) give what the SQLite files give, document by document.
func TestPostgresBackfillsMatchSQLite(t *testing.T) {
	if !onPostgres() {
		t.Skip("about PostgreSQL; runs in the PostgreSQL run")
	}
	ctx := context.Background()
	key := newKey(t).PublicKey().String()
	docs := []sql.NullString{
		{String: `{"interfaces":[{"name":"wg0","public_key":"` + key + `"}],"version":"1.2.3"}`, Valid: true},
		{String: `{"interfaces":[{"name":"wg1","public_key":"` + key + `"}]}`, Valid: true},
		{String: `{"interfaces":[{"name":"wg0","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`, Valid: true},
		{String: `{"interfaces":[{"name":"wg0","public_key":"not-a-key"}],"version":""}`, Valid: true},
		{String: `{"interfaces":[{"name":"wg0","public_key":12345}],"version":7}`, Valid: true},
		{String: `{"interfaces":"wg0","version":"` + strings.Repeat("ü", 70) + `"}`, Valid: true},
		{String: `{"interfaces":[{"name":"wg0","public_key":"` + key + `"},{"name":"wg0","public_key":"x"}]}`, Valid: true},
		{},
	}
	const before = 4 // the version before 0005
	fill := func(t *testing.T, exec func(q string, args ...any) error) {
		for i, d := range docs {
			if err := exec(`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, health_json, created_at, updated_at)
				VALUES (?, ?, 'https://n.example.net', 'v1:x', '10.1.0.0/24', ?, 1, 1)`, i+1, fmt.Sprintf("n%d", i), d); err != nil {
				t.Fatal(err)
			}
		}
	}
	type backfilled struct{ key, version sql.NullString }
	read := func(t *testing.T, db *sql.DB) []backfilled {
		rows, err := db.QueryContext(ctx, "SELECT server_public_key, agent_version FROM nodes ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []backfilled
		for rows.Next() {
			var b backfilled
			if err := rows.Scan(&b.key, &b.version); err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	latest, err := latestVersion()
	if err != nil {
		t.Fatal(err)
	}

	lite, err := openDB(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if err := migrateTo(lite, before); err != nil {
		t.Fatal(err)
	}
	fill(t, func(q string, args ...any) error { _, err := lite.ExecContext(ctx, q, args...); return err })
	if err := migrateTo(lite, latest); err != nil {
		t.Fatal(err)
	}
	want := read(t, lite)

	dsn, err := pgCluster.CreateEmptyDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgMigrateTo(dsn, before); err != nil {
		t.Fatal(err)
	}
	pg, err := openPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	fill(t, func(q string, args ...any) error {
		q, err := sqlTx{pg: &pgQueries{}}.translate(q)
		if err == nil {
			_, err = pg.ExecContext(ctx, q, args...)
		}
		return err
	})
	if err := pgMigrateTo(dsn, latest); err != nil {
		t.Fatal(err)
	}
	got := read(t, pg)
	if !slices.Equal(got, want) {
		t.Fatalf("PostgreSQL backfilled %v, SQLite %v", got, want)
	}
	if !want[0].key.Valid || want[0].key.String != key || want[0].version.String != "1.2.3" || len([]rune(want[5].version.String)) != 64 {
		t.Fatalf("SQLite backfilled %v; the fixtures do not test what they should", want)
	}
}

// TestTwoStoresOnOneDatabase: two stores on one PostgreSQL database (as
// two controller processes would have) create peers on one node at the
// same time: every peer is created, no address is given twice, and every
// creation bumped the node's generation once.
func TestTwoStoresOnOneDatabase(t *testing.T) {
	if !onPostgres() {
		t.Skip("about PostgreSQL; runs in the PostgreSQL run")
	}
	ctx := context.Background()
	dsn := pgCluster.NewDatabase(t)
	a, _ := openAt(t, dsn, testBox(t, 1))
	b, _ := openAt(t, dsn, testBox(t, 1))
	n := mustCreateNode(t, a, testNode("fra1"))
	const perStore = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore)
	for si, s := range []*Store{a, b} {
		for i := range perStore {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.CreatePeerWithAllocation(ctx, testPeer(t, n.ID, fmt.Sprintf("p%d-%d", si, i)))
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	peers, err := b.ListPeers(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	for _, p := range peers {
		for _, addr := range []netip.Addr{p.Address4, p.Address6} {
			if seen[addr] {
				t.Fatalf("address %s given twice", addr)
			}
			seen[addr] = true
		}
	}
	if len(peers) != 2*perStore {
		t.Fatalf("%d peers, want %d", len(peers), 2*perStore)
	}
	if got, _ := a.GetNode(ctx, n.ID); got.DesiredGeneration != 2*perStore {
		t.Fatalf("desired generation %d, want %d", got.DesiredGeneration, 2*perStore)
	}
	// A third store with another master key is refused.
	if _, err := Open(ctx, dsn, testBox(t, 2)); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("Open with another key = %v, want ErrWrongMasterKey", err)
	}
}
