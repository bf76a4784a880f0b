package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenFreshDatabase(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()

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
	if onPostgres() {
		return // the rest is about SQLite's settings
	}
	pragmas := []struct{ name, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	}
	for _, p := range pragmas {
		var got string
		if err := s.db.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("PRAGMA %s = %s, want %s", p.name, got, p.want)
		}
	}
	var check string
	if err := s.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	box := testBox(t, 1)
	tests := []struct {
		name string
		path string
	}{
		{"empty", ""},
		{"query", filepath.Join(t.TempDir(), "a?mode=memory")},
		{"fragment", filepath.Join(t.TempDir(), "a#b")},
		{"uri", "file:" + filepath.Join(t.TempDir(), "a.db")},
		{"missing dir", filepath.Join(t.TempDir(), "no", "such", "dir", "a.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Open(context.Background(), tt.path, box); err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), nil); err == nil {
		t.Fatal("Open without a secretbox succeeded")
	}
}

func TestWrongMasterKeyRefused(t *testing.T) {
	path := testDSN(t)
	s, err := Open(context.Background(), path, testBox(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	mustCreateNode(t, s, testNode("a"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), path, testBox(t, 2))
	if err == nil || !strings.Contains(err.Error(), "master key does not match") {
		t.Fatalf("Open with another key: %v", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	s, _, _ := openTest(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestRestart closes and reopens the store and finds everything, secrets
// included, as it was.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	path := testDSN(t)
	box := testBox(t, 7)
	s1, _ := openAt(t, path, box)
	node := mustCreateNode(t, s1, testNode("fra1"))
	peer := mustCreatePeer(t, s1, testPeer(t, node.ID, "laptop"))
	user, err := s1.CreateUser(ctx, "alice", "$argon2id$hash")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s1.CreateAPIToken(ctx, "ci", HashToken("wgf_secret_token"), "wgf_sec", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, _ := openAt(t, path, box)
	gotNode, err := s2.GetNode(ctx, node.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotNode.Secret, node.Secret) || gotNode.Name != node.Name || gotNode.IPPool != node.IPPool {
		t.Fatalf("node after restart = %+v, want %+v", gotNode, node)
	}
	gotPeer, err := s2.GetPeer(ctx, peer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if *gotPeer.PrivateKey != *peer.PrivateKey || *gotPeer.PresharedKey != *peer.PresharedKey || gotPeer.Address4 != peer.Address4 {
		t.Fatalf("peer after restart = %+v, want %+v", gotPeer, peer)
	}
	if u, err := s2.GetUserByUsername(ctx, "alice"); err != nil || u.ID != user.ID {
		t.Fatalf("user after restart = %+v, %v", u, err)
	}
	if got, err := s2.LookupAPIToken(ctx, HashToken("wgf_secret_token")); err != nil || got.ID != tok.ID {
		t.Fatalf("token after restart = %+v, %v", got, err)
	}
}

func TestInTxRollsBack(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	boom := errors.New("boom")

	err := s.InTx(ctx, func(tx *Tx) error {
		n, err := tx.CreateNode(ctx, testNode("a"))
		if err != nil {
			return err
		}
		if _, err := tx.CreatePeerWithAllocation(ctx, testPeer(t, n.ID, "p")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic was swallowed")
			}
		}()
		_ = s.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.CreateNode(ctx, testNode("b")); err != nil {
				return err
			}
			panic("inside tx")
		})
	}()
	nodes, err := s.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	peers, err := s.ListAllPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 0 || len(peers) != 0 {
		t.Fatalf("after rollback: %d nodes, %d peers", len(nodes), len(peers))
	}
}

func TestInTxCommitsMultipleSteps(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	var peerID int64
	err := s.InTx(ctx, func(tx *Tx) error {
		n, err := tx.CreateNode(ctx, testNode("a"))
		if err != nil {
			return err
		}
		p, err := tx.CreatePeerWithAllocation(ctx, testPeer(t, n.ID, "p"))
		if err != nil {
			return err
		}
		peerID = p.ID
		_, err = tx.AppendAudit(ctx, AuditEntry{Actor: "user:alice", Action: "peer.create", TargetType: "peer"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPeer(ctx, peerID); err != nil {
		t.Fatal(err)
	}
}

func TestContextCanceled(t *testing.T) {
	s, _, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ListNodes(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("ListNodes on a canceled context = %v", err)
	}
}

func TestDatabaseFilesArePrivate(t *testing.T) {
	sqliteOnly(t)
	s, _, path := openTest(t)
	if _, err := s.CreateNode(context.Background(), testNode("mode-check")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		if err != nil {
			if f == path {
				t.Fatal(err)
			}
			continue
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; it holds sealed secrets and must be 0600", filepath.Base(f), st.Mode().Perm())
		}
	}
}
