package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func TestMigrationFilesAreSequential(t *testing.T) {
	vs, err := migrationVersions()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v != uint(i+1) {
			t.Fatalf("migration versions %v: want 1, 2, 3, ... without gaps", vs)
		}
	}
}

// migrationFixture inserts representative rows into a database at one
// schema version (with that version's SQL, not the store's methods, which
// speak the latest schema) and checks them after migrating to the latest.
type migrationFixture struct {
	insert func(t *testing.T, db *sql.DB)
	check  func(t *testing.T, s *Store)
}

// migrationFixtures has one entry per schema version. Adding migration
// 000N means adding fixture N here: rows as they look at version N, and
// checks that they survive every later migration.
func migrationFixtures() map[uint]migrationFixture {
	return map[uint]migrationFixture{
		1: {
			insert: func(t *testing.T, db *sql.DB) {
				box := testBox(t, 1)
				secret, err := box.Seal([]byte("v1-node-secret"), nodeSecretAAD(1))
				if err != nil {
					t.Fatal(err)
				}
				priv := newKey(t)
				privEnc, err := box.Seal(priv[:], peerPrivateKeyAAD(1))
				if err != nil {
					t.Fatal(err)
				}
				execAll(t, db,
					`INSERT INTO nodes (id, name, agent_url, secret_enc, endpoint, ip_pool_cidr, ip_pool6_cidr, created_at, updated_at)
					 VALUES (1, 'v1-node', 'https://v1.example.net', '`+secret+`', 'v1.example.net:51820', '10.1.0.0/24', 'fd01::/64', 1, 1)`,
					`INSERT INTO peers (id, node_id, iface, name, public_key, private_key_enc, address4, address6, allowed_ips,
					   rx_bytes, rx_total, created_at, updated_at)
					 VALUES (1, 1, 'wg0', 'v1-peer', '`+priv.PublicKey().String()+`', '`+privEnc+`', '10.1.0.2', 'fd01::2',
					   '10.1.0.2/32, fd01::2/128', 100, 1000, 1, 1)`,
					`INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (1, '10.1.0.2', 1), (1, 'fd01::2', 1)`,
					`INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'v1-user', 'hash', 1)`,
					`INSERT INTO api_tokens (name, token_hash, prefix, created_at) VALUES ('v1-token', zeroblob(32), 'x', 1)`,
					`INSERT INTO audit_log (at, actor, action, details) VALUES (1, 'system', 'v1.test', '{"n": 1}')`,
				)
			},
			check: func(t *testing.T, s *Store) {
				ctx := context.Background()
				n, err := s.GetNodeByName(ctx, "v1-node")
				if err != nil {
					t.Fatal(err)
				}
				if string(n.Secret) != "v1-node-secret" || n.WGInterface != "wg0" || n.Weight != 100 || n.DriftPolicy != DriftRepair ||
					n.DriftCurrent != 0 || !n.DriftCheckedAt.IsZero() {
					t.Fatalf("v1 node after migration: %+v", n)
				}
				p, err := s.GetPeer(ctx, 1)
				if err != nil {
					t.Fatal(err)
				}
				if p.PrivateKey == nil || p.PrivateKey.PublicKey() != p.PublicKey || p.RxTotal != 1000 || p.SyncState != SyncPending {
					t.Fatalf("v1 peer after migration: %+v", p)
				}
				if _, err := s.GetUserByUsername(ctx, "v1-user"); err != nil {
					t.Fatal(err)
				}
				// The allocation still blocks its address.
				q, err := s.CreatePeerWithAllocation(ctx, testPeer(t, n.ID, "new"))
				if err != nil {
					t.Fatal(err)
				}
				if q.Address4.String() != "10.1.0.3" || q.Address6.String() != "fd01::3" {
					t.Fatalf("new peer got %s %s", q.Address4, q.Address6)
				}
			},
		},
		2: {
			insert: func(t *testing.T, db *sql.DB) {
				box := testBox(t, 1)
				secret, err := box.Seal([]byte("v2-node-secret"), nodeSecretAAD(2))
				if err != nil {
					t.Fatal(err)
				}
				execAll(t, db,
					`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, drift_count, drift_current, drift_checked_at,
					   created_at, updated_at)
					 VALUES (2, 'v2-node', 'https://v2.example.net', '`+secret+`', '10.2.0.0/24', 4, 3, 1700000000, 1, 1)`,
				)
				// The column refuses a negative count.
				if _, err := db.Exec(`UPDATE nodes SET drift_current = -1 WHERE id = 2`); err == nil {
					t.Fatal("drift_current = -1 accepted")
				}
			},
			check: func(t *testing.T, s *Store) {
				n, err := s.GetNodeByName(context.Background(), "v2-node")
				if err != nil {
					t.Fatal(err)
				}
				if n.DriftCount != 4 || n.DriftCurrent != 3 || n.DriftCheckedAt.Unix() != 1700000000 || string(n.Secret) != "v2-node-secret" {
					t.Fatalf("v2 node after migration: count %d current %d checked %v", n.DriftCount, n.DriftCurrent, n.DriftCheckedAt)
				}
			},
		},
	}
}

// TestMigrateFromEachVersion migrates an empty database to each earlier
// schema version v, fills it with rows written at v, migrates to the
// latest version and checks that the data survived.
func TestMigrateFromEachVersion(t *testing.T) {
	vs, err := migrationVersions()
	if err != nil {
		t.Fatal(err)
	}
	fixtures := migrationFixtures()
	for _, v := range vs {
		if _, ok := fixtures[v]; !ok {
			t.Fatalf("migration %04d has no fixture in migrationFixtures", v)
		}
	}
	for _, v := range vs {
		t.Run(fmt.Sprintf("from_%04d", v), func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "c.db")
			db, err := openDB(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if err := migrateTo(db, v); err != nil {
				t.Fatal(err)
			}
			// Every fixture up to v, in order, as a database that lived
			// through those versions would hold.
			for _, w := range vs {
				if w <= v {
					fixtures[w].insert(t, db)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			s, _ := openAt(t, path, testBox(t, 1))
			for _, w := range vs {
				if w <= v {
					fixtures[w].check(t, s)
				}
			}
		})
	}
}

func TestOpenRefusesNewerOrDirtySchema(t *testing.T) {
	latest, err := latestVersion()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup string
	}{
		{"newer", fmt.Sprintf("UPDATE schema_migrations SET version = %d", latest+1)},
		{"dirty", "UPDATE schema_migrations SET dirty = 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "c.db")
			db, err := openDB(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if err := migrateUp(db); err != nil {
				t.Fatal(err)
			}
			execAll(t, db, tt.setup)
			db.Close()
			s, err := Open(ctx, path, testBox(t, 1))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			t.Log(err)
		})
	}
}

func TestMigrateUpIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db, err := openDB(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 3 {
		if err := migrateUp(db); err != nil {
			t.Fatal(err)
		}
	}
	// The *sql.DB is still open: migrate did not close it.
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
}

func execAll(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
