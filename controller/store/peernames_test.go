package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// TestPeerNamesWithPrefix: the names that start with the prefix, on any
// node, letter case counting; multi-byte prefixes by characters.
func TestPeerNamesWithPrefix(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("names"))
	for _, name := range []string{"laptop-1", "laptop-x", "Laptop-2", "lap", "été-3", "été"} {
		mustCreatePeer(t, s, testPeer(t, n.ID, name))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"laptop-", []string{"laptop-1", "laptop-x"}},
		{"Laptop-", []string{"Laptop-2"}},
		{"été-", []string{"été-3"}},
		{"phone-", []string{}},
		{"", []string{"laptop-1", "laptop-x", "Laptop-2", "lap", "été-3", "été"}},
	}
	for _, tt := range tests {
		var got []string
		err := s.InTx(ctx, func(tx *Tx) error {
			var err error
			got, err = tx.PeerNamesWithPrefix(ctx, tt.prefix)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tt.want))
		if !slices.Equal(got, want) {
			t.Errorf("PeerNamesWithPrefix(%q) = %q, want %q", tt.prefix, got, want)
		}
	}
}

// peerNamesMigration is the version that made peer names unique per node.
const peerNamesMigration = 21

// peerNamesFixture: at 0021 a node's peers have names of their own; they
// keep them, and a second peer of one of those names, in another letter
// case, is refused on the node and taken on another.
func peerNamesFixture() migrationFixture {
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			secret, err := box.Seal([]byte("v21-node-secret"), nodeSecretAAD(211))
			if err != nil {
				t.Fatal(err)
			}
			k1, k2 := newKey(t).PublicKey().String(), newKey(t).PublicKey().String()
			execAll(t, db,
				`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
				 VALUES (211, 'v21-node', 'https://v21.example.net', '`+secret+`', '10.21.0.0/24', 1, 1)`,
				`INSERT INTO peers (id, node_id, iface, name, public_key, address4, allowed_ips, created_at, updated_at)
				 VALUES (211, 211, 'wg0', 'v21-alice', '`+k1+`', '10.21.0.2', '10.21.0.2/32', 1, 1)`,
				`INSERT INTO peers (id, node_id, iface, name, public_key, address4, allowed_ips, created_at, updated_at)
				 VALUES (212, 211, 'wg0', 'v21-bob', '`+k2+`', '10.21.0.3', '10.21.0.3/32', 1, 1)`,
			)
		},
		check: func(t *testing.T, s *Store) {
			ctx := context.Background()
			for id, name := range map[int64]string{211: "v21-alice", 212: "v21-bob"} {
				if p, err := s.GetPeer(ctx, id); err != nil || p.Name != name {
					t.Fatalf("v21 peer %d after migration: %q, %v; want %q", id, p.Name, err, name)
				}
			}
			_, err := s.CreatePeerWithAllocation(ctx, testPeer(t, 211, "V21-Alice"))
			if !errors.Is(err, ErrPeerNameTaken) || !errors.Is(err, ErrConflict) {
				t.Fatalf("a second V21-Alice on the v21 node: %v, want ErrPeerNameTaken", err)
			}
		},
	}
}

// TestMigrationNamesPeers: migration 0021 gives every peer without a name
// one (peer-ID), and of peers sharing a name on a node (letter case
// aside) leaves the oldest its name and gives the others "-ID", or
// peer-ID-dup when that clashes too; on SQLite and, in the PostgreSQL
// run, on PostgreSQL, with the same outcome.
func TestMigrationNamesPeers(t *testing.T) {
	ctx := context.Background()
	type peer struct {
		id, node int64
		name     string
	}
	before := []peer{
		{1, 1, ""}, {2, 1, "  "}, {3, 1, "alice"}, {4, 1, "ALICE"}, {5, 1, "alice-4"}, {6, 1, "bob"},
		{7, 2, "alice"}, {8, 2, "peer-1"}, {9, 1, "peer-1"}, {10, 1, "Alice"},
	}
	want := []peer{
		{1, 1, "peer-1"}, {2, 1, "peer-2"}, {3, 1, "alice"}, {4, 1, "ALICE-4"}, {5, 1, "peer-5-dup"}, {6, 1, "bob"},
		{7, 2, "alice"}, {8, 2, "peer-1"}, {9, 1, "peer-1-9"}, {10, 1, "Alice-10"},
	}
	fill := func(t *testing.T, exec func(q string, args ...any) error) {
		for _, id := range []int64{1, 2} {
			if err := exec(`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
				VALUES (?, ?, 'https://n.example.net', 'v1:x', ?, 1, 1)`, id, fmt.Sprintf("n%d", id), fmt.Sprintf("10.%d.0.0/24", id)); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range before {
			addr := fmt.Sprintf("10.%d.0.%d", p.node, p.id+1)
			if err := exec(`INSERT INTO peers (id, node_id, iface, name, public_key, address4, allowed_ips, created_at, updated_at)
				VALUES (?, ?, 'wg0', ?, ?, ?, ?, 1, 1)`, p.id, p.node, p.name, newKey(t).PublicKey().String(), addr, addr+"/32"); err != nil {
				t.Fatal(err)
			}
		}
	}
	read := func(t *testing.T, db *sql.DB) []peer {
		rows, err := db.QueryContext(ctx, "SELECT id, node_id, name FROM peers ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []peer
		for rows.Next() {
			var p peer
			if err := rows.Scan(&p.id, &p.node, &p.name); err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
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
	if err := migrateTo(lite, peerNamesMigration-1); err != nil {
		t.Fatal(err)
	}
	fill(t, func(q string, args ...any) error { _, err := lite.ExecContext(ctx, q, args...); return err })
	if err := migrateTo(lite, latest); err != nil {
		t.Fatal(err)
	}
	if got := read(t, lite); !slices.Equal(got, want) {
		t.Fatalf("SQLite: after the migration\n%v\nwant\n%v", got, want)
	}
	if _, err := lite.ExecContext(ctx, "UPDATE peers SET name = 'BOB' WHERE id = 3"); !isPeerNameClash(err) {
		t.Fatalf("SQLite: a second bob on node 1: %v, want a clash on peers_node_name", err)
	}
	if !onPostgres() {
		return
	}

	dsn, err := pgCluster.CreateEmptyDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgMigrateTo(dsn, peerNamesMigration-1); err != nil {
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
	if got := read(t, pg); !slices.Equal(got, want) {
		t.Fatalf("PostgreSQL: after the migration\n%v\nwant\n%v", got, want)
	}
	if _, err := pg.ExecContext(ctx, "UPDATE peers SET name = 'BOB' WHERE id = 3"); !isPeerNameClash(err) {
		t.Fatalf("PostgreSQL: a second bob on node 1: %v, want a clash on peers_node_name", err)
	}
}

// TestPeerNamesUniquePerNode: a name is taken on its node letter case
// aside (ErrPeerNameTaken, an ErrConflict) by a create, an update and a
// move, and free on another node; PeerNamed finds a peer by it.
func TestPeerNamesUniquePerNode(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n1 := mustCreateNode(t, s, testNode("names-1"))
	n2 := mustCreateNode(t, s, testNode("names-2"))
	alice := mustCreatePeer(t, s, testPeer(t, n1.ID, "alice"))
	bob := mustCreatePeer(t, s, testPeer(t, n1.ID, "bob"))
	other := mustCreatePeer(t, s, testPeer(t, n2.ID, "Alice"))

	_, err := s.CreatePeerWithAllocation(ctx, testPeer(t, n1.ID, "ALICE"))
	if !errors.Is(err, ErrPeerNameTaken) || !errors.Is(err, ErrConflict) {
		t.Fatalf("create ALICE beside alice: %v", err)
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		b, err := tx.GetPeer(ctx, bob.ID)
		if err != nil {
			return err
		}
		b.Name = "Alice"
		_, err = tx.UpdatePeer(ctx, b)
		return err
	})
	if !errors.Is(err, ErrPeerNameTaken) {
		t.Fatalf("rename bob to Alice beside alice: %v", err)
	}
	err = s.InTx(ctx, func(tx *Tx) error { _, err := tx.MovePeer(ctx, other.ID, n1.ID); return err })
	if !errors.Is(err, ErrPeerNameTaken) {
		t.Fatalf("move Alice onto alice's node: %v", err)
	}
	if p, err := s.GetPeer(ctx, other.ID); err != nil || p.NodeID != n2.ID {
		t.Fatalf("after the refused move: node %d, %v", p.NodeID, err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		p, err := tx.PeerNamed(ctx, n1.ID, "ALICE")
		if err != nil || p.ID != alice.ID {
			t.Errorf("PeerNamed(ALICE) on node 1: peer %d, %v; want %d", p.ID, err, alice.ID)
		}
		if _, err := tx.PeerNamed(ctx, n1.ID, "carol"); !errors.Is(err, ErrPeerNotFound) {
			t.Errorf("PeerNamed(carol): %v, want ErrPeerNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
