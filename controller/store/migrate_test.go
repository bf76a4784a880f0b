package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/internal/testenv"
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

// serverKeyMigration is the version that added nodes.server_public_key.
const serverKeyMigration = 5

// fixtureServerKey is a well-formed public key for the fixtures.
var fixtureServerKey = wgtypes.Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// TestMigrationBackfillsServerKey: the migration that added
// server_public_key fills it from each node's stored health document: the
// first interface named like the node's, when its key is well formed and
// not all zeros; NULL for anything else.
func TestMigrationBackfillsServerKey(t *testing.T) {
	ctx := context.Background()
	other := wgtypes.Key{9: 9}
	health := func(ifaces ...string) string {
		return `{"status":"ok","interfaces":[` + strings.Join(ifaces, ",") + `]}`
	}
	iface := func(name, key string) string { return `{"name":"` + name + `","public_key":"` + key + `"}` }
	tests := []struct {
		name, wgIface, health string
		want                  wgtypes.Key
	}{
		{"the node's interface", "wg0", health(iface("wg1", other.String()), iface("wg0", fixtureServerKey.String())), fixtureServerKey},
		{"another interface name", "wg1", health(iface("wg1", fixtureServerKey.String())), fixtureServerKey},
		{"the first of two of that name", "wg0", health(iface("wg0", fixtureServerKey.String()), iface("wg0", other.String())), fixtureServerKey},
		{"no interface of that name", "wg0", health(iface("wg1", fixtureServerKey.String())), wgtypes.Key{}},
		{"no interfaces", "wg0", `{"status":"ok"}`, wgtypes.Key{}},
		{"no health document", "wg0", "", wgtypes.Key{}},
		{"interfaces not a list", "wg0", `{"interfaces":{"wg0":` + iface("wg0", fixtureServerKey.String()) + `}}`, wgtypes.Key{}},
		{"a key too short", "wg0", health(iface("wg0", "AAAA=")), wgtypes.Key{}},
		{"a key not base64", "wg0", health(iface("wg0", strings.Repeat("*", 43)+"=")), wgtypes.Key{}},
		{"the zero key", "wg0", health(iface("wg0", wgtypes.Key{}.String())), wgtypes.Key{}},
		{"a key that is a number", "wg0", `{"interfaces":[{"name":"wg0","public_key":12}]}`, wgtypes.Key{}},
	}
	docs := make([]healthDoc, len(tests))
	for i, tt := range tests {
		docs[i] = healthDoc{name: tt.name, wgIface: tt.wgIface, health: tt.health}
	}
	s := openWithHealthDocs(t, serverKeyMigration, docs)
	for i, tt := range tests {
		n, err := s.GetNode(ctx, int64(i+1))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if n.ServerPublicKey != tt.want {
			t.Errorf("%s: server key %v, want %v", tt.name, n.ServerPublicKey, tt.want)
		}
	}
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
				testenv.Equal(t, "v1 node Secret", string(n.Secret), "v1-node-secret")
				testenv.Equal(t, "v1 node WGInterface", n.WGInterface, "wg0")
				testenv.Equal(t, "v1 node Weight", n.Weight, 100)
				testenv.Equal(t, "v1 node DriftPolicy", n.DriftPolicy, DriftRepair)
				testenv.Equal(t, "v1 node DriftCurrent", n.DriftCurrent, 0)
				testenv.Equal(t, "v1 node DriftCheckedAt.IsZero()", n.DriftCheckedAt.IsZero(), true)
				if t.Failed() {
					t.FailNow()
				}
				p, err := s.GetPeer(ctx, 1)
				if err != nil {
					t.Fatal(err)
				}
				if p.PrivateKey == nil {
					t.Fatal("v1 peer after migration: PrivateKey = nil")
				}
				testenv.Equal(t, "v1 peer PrivateKey.PublicKey()", p.PrivateKey.PublicKey(), p.PublicKey)
				testenv.Equal(t, "v1 peer RxTotal", p.RxTotal, 1000)
				testenv.Equal(t, "v1 peer SyncState", p.SyncState, SyncPending)
				if t.Failed() {
					t.FailNow()
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
				// Ids are never reused (0003): after the newest peer is
				// deleted, the next one gets a higher id.
				if _, err := s.DeletePeer(ctx, q.ID); err != nil {
					t.Fatal(err)
				}
				if r := mustCreatePeer(t, s, testPeer(t, n.ID, "newer")); r.ID <= q.ID {
					t.Fatalf("peer id %d after deleting peer %d: reused", r.ID, q.ID)
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
		3: {
			// At 0003 ids come from AUTOINCREMENT: node 30, created and
			// deleted, is remembered in sqlite_sequence only.
			insert: func(t *testing.T, db *sql.DB) {
				execAll(t, db,
					`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
					 VALUES (30, 'v3-gone', 'https://v3.example.net', 'v1:unused', '10.30.0.0/24', 1, 1)`,
					`DELETE FROM nodes WHERE id = 30`,
				)
			},
			check: func(t *testing.T, s *Store) {
				n := testNode("v3-node")
				n.IPPool = netip.MustParsePrefix("10.31.0.0/24")
				if got := mustCreateNode(t, s, n); got.ID <= 30 {
					t.Fatalf("new node got id %d; node 30 was handed out at version 3", got.ID)
				}
			},
		},
		4: {
			// At 0004 a token may expire; tokens made before never do.
			insert: func(t *testing.T, db *sql.DB) {
				execAll(t, db, `INSERT INTO api_tokens (name, token_hash, prefix, created_at, expires_at)
					VALUES ('v4-token', randomblob(32), 'wgf_v4', 1, 1800000000)`)
			},
			check: func(t *testing.T, s *Store) {
				toks, err := s.ListAPITokens(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				seen := 0
				for _, tok := range toks {
					switch tok.Name {
					case "v1-token":
						seen++
						if !tok.ExpiresAt.IsZero() {
							t.Errorf("v1 token expires at %v, want never", tok.ExpiresAt)
						}
					case "v4-token":
						seen++
						if tok.ExpiresAt.Unix() != 1800000000 {
							t.Errorf("v4 token expires at %v, want unix 1800000000", tok.ExpiresAt)
						}
					}
				}
				if seen != 2 {
					t.Errorf("tokens after migration: %+v", toks)
				}
			},
		},
		serverKeyMigration: {
			insert: func(t *testing.T, db *sql.DB) {
				box := testBox(t, 1)
				secret, err := box.Seal([]byte("v5-node-secret"), nodeSecretAAD(5))
				if err != nil {
					t.Fatal(err)
				}
				execAll(t, db,
					`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, server_public_key, created_at, updated_at)
					 VALUES (5, 'v5-node', 'https://v5.example.net', '`+secret+`', '10.5.0.0/24', '`+fixtureServerKey.String()+`', 1, 1)`,
				)
			},
			check: func(t *testing.T, s *Store) {
				n, err := s.GetNodeByName(context.Background(), "v5-node")
				if err != nil {
					t.Fatal(err)
				}
				if n.ServerPublicKey != fixtureServerKey || string(n.Secret) != "v5-node-secret" {
					t.Fatalf("v5 node after migration: server key %v, want %v", n.ServerPublicKey, fixtureServerKey)
				}
			},
		},
		6: {
			// At 0006 a node remembers its agent's path family; only
			// "", "bare" and "v1" are taken.
			insert: func(t *testing.T, db *sql.DB) {
				box := testBox(t, 1)
				secret, err := box.Seal([]byte("v6-node-secret"), nodeSecretAAD(6))
				if err != nil {
					t.Fatal(err)
				}
				execAll(t, db,
					`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, api_paths, created_at, updated_at)
					 VALUES (6, 'v6-node', 'https://v6.example.net', '`+secret+`', '10.6.0.0/24', 'v1', 1, 1)`,
				)
				if _, err := db.Exec(`UPDATE nodes SET api_paths = 'both' WHERE id = 6`); err == nil {
					t.Fatal(`api_paths = 'both' accepted`)
				}
			},
			check: func(t *testing.T, s *Store) {
				n, err := s.GetNodeByName(context.Background(), "v6-node")
				if err != nil {
					t.Fatal(err)
				}
				if n.APIPaths != "v1" || string(n.Secret) != "v6-node-secret" {
					t.Fatalf("v6 node after migration: api_paths %q, want v1", n.APIPaths)
				}
				// Nodes from before 0006 have not been found out yet.
				v5, err := s.GetNodeByName(context.Background(), "v5-node")
				if err == nil && v5.APIPaths != "" {
					t.Fatalf("v5 node api_paths %q after migration, want \"\"", v5.APIPaths)
				}
			},
		},
		agentVersionMigration: {
			insert: func(t *testing.T, db *sql.DB) {
				box := testBox(t, 1)
				secret, err := box.Seal([]byte("v7-node-secret"), nodeSecretAAD(7))
				if err != nil {
					t.Fatal(err)
				}
				execAll(t, db,
					`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, agent_version, created_at, updated_at)
					 VALUES (7, 'v7-node', 'https://v7.example.net', '`+secret+`', '10.7.0.0/24', '1.2.3', 1, 1)`,
				)
			},
			check: func(t *testing.T, s *Store) {
				n, err := s.GetNodeByName(context.Background(), "v7-node")
				if err != nil {
					t.Fatal(err)
				}
				if n.AgentVersion != "1.2.3" || string(n.Secret) != "v7-node-secret" {
					t.Fatalf("v7 node after migration: agent version %q, want 1.2.3", n.AgentVersion)
				}
			},
		},
		nodeKeepaliveMigration: {
			// At 0008 a peer's node side keepalive is its own column,
			// apart from the client's; both bounded like keepalive.
			insert: func(t *testing.T, db *sql.DB) {
				box := testBox(t, 1)
				secret, err := box.Seal([]byte("v8-node-secret"), nodeSecretAAD(8))
				if err != nil {
					t.Fatal(err)
				}
				k := newKey(t).PublicKey().String()
				execAll(t, db,
					`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
					 VALUES (8, 'v8-node', 'https://v8.example.net', '`+secret+`', '10.8.0.0/24', 1, 1)`,
					`INSERT INTO peers (id, node_id, iface, name, public_key, address4, allowed_ips, keepalive, node_keepalive, created_at, updated_at)
					 VALUES (8, 8, 'wg0', 'v8-peer', '`+k+`', '10.8.0.2', '10.8.0.2/32', 25, 7, 1, 1)`,
					`INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (8, '10.8.0.2', 8)`,
				)
				if _, err := db.Exec(`UPDATE peers SET node_keepalive = 65536 WHERE id = 8`); err == nil {
					t.Fatal("node_keepalive = 65536 accepted")
				}
			},
			check: func(t *testing.T, s *Store) {
				p, err := s.GetPeer(context.Background(), 8)
				if err != nil {
					t.Fatal(err)
				}
				if p.Name != "v8-peer" || p.Keepalive != 25*time.Second || p.NodeKeepalive != 7*time.Second {
					t.Fatalf("v8 peer after migration: keepalive %v node keepalive %v, want 25s and 7s", p.Keepalive, p.NodeKeepalive)
				}
			},
		},
		tlsFingerprintMigration:   tlsFingerprintFixture(),
		nodeLabelsMigration:       nodeLabelsFixture(),
		shareLinksMigration:       shareLinksFixture(),
		enrollmentTokensMigration: enrollmentTokensFixture(),
		peerLifecycleMigration:    peerLifecycleFixture(),
		webhooksMigration:         webhooksFixture(),
		secretPrevMigration:       secretPrevFixture(),
		trafficHistoryMigration:   trafficHistoryFixture(),
		peerSearchMigration:       peerSearchFixture(),
		usersRolesMigration:       usersRolesFixture(),
		serverKeyIndexMigration:   serverKeyIndexFixture(),
		loginFailuresMigration:    loginFailuresFixture(),
		peerNamesMigration:        peerNamesFixture(),
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

// nodeKeepaliveMigration is the version that added peers.node_keepalive.
const nodeKeepaliveMigration = 8

// TestMigrationBackfillsNodeKeepalive: the migration that split the node
// side's keepalive from the client's sets it to the peer's keepalive, so
// what the agents hold does not change at the upgrade.
func TestMigrationBackfillsNodeKeepalive(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := openDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(db, nodeKeepaliveMigration-1); err != nil {
		t.Fatal(err)
	}
	box := testBox(t, 1)
	secret, err := box.Seal([]byte("secret"), nodeSecretAAD(1))
	if err != nil {
		t.Fatal(err)
	}
	execAll(t, db, `INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
		VALUES (1, 'n1', 'https://n.example.net', '`+secret+`', '10.1.0.0/24', 1, 1)`)
	want := map[int64]time.Duration{1: 25 * time.Second, 2: 0, 3: 65535 * time.Second}
	for id, ka := range want {
		execAll(t, db, fmt.Sprintf(`INSERT INTO peers (id, node_id, iface, public_key, address4, allowed_ips, keepalive, created_at, updated_at)
			VALUES (%d, 1, 'wg0', '%s', '10.1.0.%d', '10.1.0.%d/32', %d, 1, 1)`, id, newKey(t).PublicKey(), id+1, id+1, int64(ka/time.Second)))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, _ := openAt(t, path, box)
	for id, ka := range want {
		p, err := s.GetPeer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if p.Keepalive != ka || p.NodeKeepalive != ka {
			t.Errorf("peer %d: keepalive %v node keepalive %v, want both %v", id, p.Keepalive, p.NodeKeepalive, ka)
		}
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

// Migration 0003 rebuilds nodes, peers, users and api_tokens with
// AUTOINCREMENT: every row survives, ip_allocations and sessions (which
// point at them) included, the foreign keys, their actions and the indexes
// still hold, and ids that the audit log shows were handed out before the
// migration are not handed out again.
func TestMigration0003KeepsRowsAndNeverReusesIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := openDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(db, 2); err != nil {
		t.Fatal(err)
	}
	box := testBox(t, 1)
	secret, err := box.Seal([]byte("node-secret"), nodeSecretAAD(1))
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := newKey(t).PublicKey().String(), newKey(t).PublicKey().String()
	execAll(t, db,
		`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, ip_pool6_cidr, created_at, updated_at)
		 VALUES (1, 'edge', 'https://edge.example.net', '`+secret+`', '10.3.0.0/24', 'fd03::/64', 1, 1)`,
		`INSERT INTO peers (id, node_id, iface, public_key, address4, address6, allowed_ips, created_at, updated_at)
		 VALUES (1, 1, 'wg0', '`+k1+`', '10.3.0.2', 'fd03::2', '10.3.0.2/32, fd03::2/128', 1, 1),
		        (2, 1, 'wg0', '`+k2+`', '10.3.0.3', NULL, '10.3.0.3/32', 1, 1)`,
		`INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (1, '10.3.0.2', 1), (1, 'fd03::2', 1), (1, '10.3.0.3', 2)`,
		`INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'alice', 'hash', 1)`,
		`INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (randomblob(32), 1, 'csrf', 1, 4000000000)`,
		`INSERT INTO api_tokens (id, name, token_hash, prefix, created_at) VALUES (3, 'ci', randomblob(32), 'wgf_x', 1)`,
		// Peer 9 and node 4 existed once and were deleted; the audit log is
		// all that remembers them. A target id that is not a number is
		// ignored.
		`INSERT INTO audit_log (at, actor, action, target_type, target_id) VALUES
		   (1, 'user:alice', 'peer.delete', 'peer', '9'), (1, 'user:alice', 'node.delete', 'node', '4'),
		   (1, 'user:alice', 'peer.create', 'peer', 'x7x'), (1, 'cli', 'token.create', 'token', '3')`,
	)
	if err := migrateUp(db); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for table, want := range map[string]int{"nodes": 1, "peers": 2, "ip_allocations": 3, "users": 1, "sessions": 1, "api_tokens": 1, "audit_log": 4} {
		if got := count("SELECT count(*) FROM " + table); got != want {
			t.Errorf("%s has %d rows after the migration, want %d", table, got, want)
		}
	}
	for _, table := range []string{"nodes", "peers", "users", "api_tokens"} {
		if count(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '`+table+`' AND sql LIKE '%AUTOINCREMENT%'`) != 1 {
			t.Errorf("table %s has no AUTOINCREMENT", table)
		}
	}
	for _, index := range []string{"ip_allocations_peer", "sessions_user", "sessions_expires", "audit_log_target"} {
		if count(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = '`+index+`'`) != 1 {
			t.Errorf("index %s is gone", index)
		}
	}
	if n := count("SELECT count(*) FROM pragma_foreign_key_check"); n != 0 {
		t.Errorf("%d foreign key violations", n)
	}
	if n := count("SELECT count(*) FROM temp.sqlite_schema"); n != 0 {
		t.Errorf("%d temporary tables left", n)
	}
	// The foreign keys and their actions still work.
	if _, err := db.Exec("DELETE FROM nodes WHERE id = 1"); err == nil {
		t.Error("deleting a node with peers succeeded (ON DELETE RESTRICT lost)")
	}
	execAll(t, db, "DELETE FROM peers WHERE id = 2", "DELETE FROM users WHERE id = 1")
	if n := count("SELECT count(*) FROM ip_allocations WHERE peer_id = 2"); n != 0 {
		t.Errorf("deleting a peer left %d of its allocations (ON DELETE CASCADE lost)", n)
	}
	if n := count("SELECT count(*) FROM sessions"); n != 0 {
		t.Errorf("deleting a user left %d sessions (ON DELETE CASCADE lost)", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, _ := openAt(t, path, box)
	p1, err := s.GetPeer(ctx, 1)
	if err != nil || p1.Address6.String() != "fd03::2" {
		t.Fatalf("peer 1 after the migration: %+v, %v", p1, err)
	}
	n, err := s.GetNode(ctx, 1)
	if err != nil || string(n.Secret) != "node-secret" {
		t.Fatalf("node 1 after the migration: %v (secret readable: %v)", err, err == nil && string(n.Secret) == "node-secret")
	}
	if p := mustCreatePeer(t, s, testPeer(t, 1, "new")); p.ID <= 9 {
		t.Errorf("new peer got id %d; peer 9 was handed out before the migration", p.ID)
	}
	nn := testNode("edge-new")
	nn.IPPool = netip.MustParsePrefix("10.4.0.0/24")
	if got := mustCreateNode(t, s, nn); got.ID <= 4 {
		t.Errorf("new node got id %d; node 4 was handed out before the migration", got.ID)
	}
	if tok, err := s.CreateAPIToken(ctx, "new", HashToken("wgf_new"), "wgf_new", time.Time{}); err != nil || tok.ID <= 3 {
		t.Errorf("new token id %d (err %v), want above 3", tok.ID, err)
	}
}
