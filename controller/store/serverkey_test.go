package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// serverKeyIndexMigration is the version that indexed
// nodes.server_public_key.
const serverKeyIndexMigration = 19

// serverKeyIndexFixture: at 0019 two nodes may report the same interface
// key (the index is not unique: a node re-enrolled under another name
// keeps its key); both are found by it after every later migration.
func serverKeyIndexFixture() migrationFixture {
	key := "FhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFkY="
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			for _, id := range []int{191, 192} {
				secret, err := box.Seal([]byte("v19-node-secret"), nodeSecretAAD(int64(id)))
				if err != nil {
					t.Fatal(err)
				}
				execAll(t, db, fmt.Sprintf(`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, server_public_key, created_at, updated_at)
					 VALUES (%d, 'v19-node-%d', 'https://v19.example.net', '%s', '10.19.%d.0/24', '%s', 1, 1)`, id, id, secret, id, key))
			}
		},
		check: func(t *testing.T, s *Store) {
			k, err := wgtypes.ParseKey(key)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			err = s.View(context.Background(), func(tx *Tx) error {
				nodes, err := tx.NodesWithServerKey(context.Background(), k)
				for _, n := range nodes {
					ids = append(ids, n.ID)
				}
				return err
			})
			if err != nil || !slices.Equal(ids, []int64{191, 192}) {
				t.Fatalf("v19 nodes by server key after migration: %v, err %v; want [191 192]", ids, err)
			}
		},
	}
}

// TestNodesWithServerKey: only the nodes that reported the key are found,
// all of them, by id; a key no node reported finds none.
func TestNodesWithServerKey(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	a := mustCreateNode(t, s, testNode("a"))
	b := mustCreateNode(t, s, testNode("b"))
	c := mustCreateNode(t, s, testNode("c"))
	doc := json.RawMessage(`{"status":"ok"}`)
	shared, other, unknown := newKey(t).PublicKey(), newKey(t).PublicKey(), newKey(t).PublicKey()
	for _, r := range []struct {
		id  int64
		key wgtypes.Key
	}{{a.ID, shared}, {b.ID, other}, {c.ID, shared}} {
		if err := s.RecordNodeHealth(ctx, r.id, NodeOnline, doc, r.key, "", true); err != nil {
			t.Fatal(err)
		}
	}
	find := func(k wgtypes.Key) []int64 {
		t.Helper()
		var ids []int64
		err := s.InTx(ctx, func(tx *Tx) error {
			nodes, err := tx.NodesWithServerKey(ctx, k)
			for _, n := range nodes {
				ids = append(ids, n.ID)
				if n.ServerPublicKey != k {
					t.Errorf("node %d has key %v, want %v", n.ID, n.ServerPublicKey, k)
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := find(shared); len(got) != 2 || got[0] != a.ID || got[1] != c.ID {
		t.Errorf("nodes with the shared key = %v, want [%d %d]", got, a.ID, c.ID)
	}
	if got := find(other); len(got) != 1 || got[0] != b.ID {
		t.Errorf("nodes with the other key = %v, want [%d]", got, b.ID)
	}
	if got := find(unknown); len(got) != 0 {
		t.Errorf("nodes with an unreported key = %v, want none", got)
	}
}

// TestNodesWithServerKeyUsesIndex: the key check of every peer creation
// finds the nodes holding a key through an index (migration 0019), not by
// reading every node: SQLite's plan for NodesWithServerKey's query names
// the index; on PostgreSQL the index exists (its planner prefers a scan
// of a table this small, so its plan would show nothing).
func TestNodesWithServerKeyUsesIndex(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	if onPostgres() {
		if n := countRows(t, s, "SELECT count(*) FROM pg_indexes WHERE tablename = 'nodes' AND indexname = 'nodes_server_public_key'"); n != 1 {
			t.Fatalf("index nodes_server_public_key: %d found, want 1", n)
		}
		return
	}
	rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT "+nodeColumns+" FROM nodes WHERE server_public_key = ? ORDER BY id", "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "INDEX nodes_server_public_key") {
		t.Errorf("plan of NodesWithServerKey's query: %q; want it to use index nodes_server_public_key", plan)
	}
}
