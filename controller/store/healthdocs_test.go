package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// healthDoc is one node row of a backfill test: the node's interface and
// its stored health document ("" stores NULL); name names the case.
type healthDoc struct{ name, wgIface, health string }

// openWithHealthDocs makes a database at the schema version just before
// migration, inserts node i+1 for docs[i], and opens the store on it, which
// runs migration and every later one.
func openWithHealthDocs(t *testing.T, migration uint, docs []healthDoc) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := openDB(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(db, migration-1); err != nil {
		t.Fatal(err)
	}
	box := testBox(t, 1)
	for i, d := range docs {
		id := i + 1
		secret, err := box.Seal([]byte("secret"), nodeSecretAAD(int64(id)))
		if err != nil {
			t.Fatal(err)
		}
		var h any
		if d.health != "" {
			h = d.health
		}
		_, err = db.Exec(`INSERT INTO nodes (id, name, agent_url, secret_enc, wg_interface, ip_pool_cidr, health_json, created_at, updated_at)
			VALUES (?, ?, 'https://n.example.net', ?, ?, ?, ?, 1, 1)`,
			id, fmt.Sprintf("n%d", id), secret, d.wgIface, fmt.Sprintf("10.%d.0.0/24", id), h)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, _ := openAt(t, path, box)
	return s
}
