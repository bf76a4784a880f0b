package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// secretPrevMigration is the version that added nodes.secret_prev_enc and
// nodes.secret_version.
const secretPrevMigration = 15

// secretPrevFixture: a node in the middle of a rotation at version 15;
// nodes from before have no previous secret and version 0.
func secretPrevFixture() migrationFixture {
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			secret, err := box.Seal([]byte("v15-node-secret"), nodeSecretAAD(15))
			if err != nil {
				t.Fatal(err)
			}
			prev, err := box.Seal([]byte("v15-node-prev"), nodePrevSecretAAD(15))
			if err != nil {
				t.Fatal(err)
			}
			execAll(t, db,
				`INSERT INTO nodes (id, name, agent_url, secret_enc, secret_prev_enc, secret_version, ip_pool_cidr, created_at, updated_at)
				 VALUES (15, 'v15-node', 'https://v15.example.net', '`+secret+`', '`+prev+`', 3, '10.15.0.0/24', 1, 1)`,
			)
		},
		check: func(t *testing.T, s *Store) {
			n, err := s.GetNodeByName(context.Background(), "v15-node")
			if err != nil {
				t.Fatal(err)
			}
			if string(n.Secret) != "v15-node-secret" || string(n.PrevSecret) != "v15-node-prev" || n.SecretVersion != 3 {
				t.Fatalf("v15 node after migration: previous secret %q, version %d", n.PrevSecret, n.SecretVersion)
			}
			if v8, err := s.GetNodeByName(context.Background(), "v8-node"); err == nil && (v8.PrevSecret != nil || v8.SecretVersion != 0) {
				t.Fatalf("v8 node after migration: previous secret set %v, version %d; want none, 0", v8.PrevSecret != nil, v8.SecretVersion)
			}
		},
	}
}

// TestSetNodeSecrets: the steps of a rotation are stored sealed, read
// back, counted by SecretVersion and resealed with the master key; a
// secret changed by hand ends a rotation.
func TestSetNodeSecrets(t *testing.T) {
	ctx := context.Background()
	path := testDSN(t)
	boxA, boxB := testBox(t, 0xA), testBox(t, 0xB)
	s, _ := openAt(t, path, boxA)
	n := mustCreateNode(t, s, testNode("fra1"))
	testenv.Equal(t, "created PrevSecret", n.PrevSecret == nil, true)
	old, next := n.Secret, []byte("the-next-secret-of-fra1")

	if err := s.SetNodeSecrets(ctx, n.ID, next, old); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "Secret", string(got.Secret), string(next))
	testenv.Equal(t, "PrevSecret", string(got.PrevSecret), string(old))
	testenv.Equal(t, "SecretVersion", got.SecretVersion, n.SecretVersion+1)
	testenv.Equal(t, "UpdatedAt", got.UpdatedAt, n.UpdatedAt)

	res, err := s.Reseal(ctx, boxB)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "Resealed.PrevSecrets", res.PrevSecrets, 1)
	if got, err = s.GetNode(ctx, n.ID); err != nil || !bytes.Equal(got.PrevSecret, old) {
		t.Fatalf("after Reseal: %v, previous secret intact %v", err, bytes.Equal(got.PrevSecret, old))
	}
	var sealedSecret, sealedPrev string
	if err := rawQueryRow(ctx, s, "SELECT secret_enc, secret_prev_enc FROM nodes WHERE id = ?", n.ID).Scan(&sealedSecret, &sealedPrev); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{sealedSecret, sealedPrev} {
		if strings.Contains(v, string(old)) || strings.Contains(v, string(next)) {
			t.Error("a sealed column holds a node secret in the clear")
		}
	}
	if !onPostgres() {
		if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, old) || bytes.Contains(data, next) {
			t.Error("the database file holds a node secret in the clear")
		}
	}

	// Sealed values are bound to their column: the secret copied into
	// the previous secret's column does not open.
	if _, err := rawExec(ctx, s, "UPDATE nodes SET secret_prev_enc = secret_enc WHERE id = ?", n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetNode(ctx, n.ID); err == nil {
		t.Error("a secret moved to secret_prev_enc opened")
	}
	if err := s.SetNodeSecrets(ctx, n.ID, next, old); err != nil {
		t.Fatal(err)
	}

	// The rotation ends: no previous secret.
	if err := s.SetNodeSecrets(ctx, n.ID, next, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetNode(ctx, n.ID); got.PrevSecret != nil || got.SecretVersion != n.SecretVersion+3 {
		t.Errorf("after the rotation: PrevSecret set %v, SecretVersion %d", got.PrevSecret != nil, got.SecretVersion)
	}

	// An edit that keeps the secret keeps a rotation going; one with
	// another secret ends it.
	if err := s.SetNodeSecrets(ctx, n.ID, next, old); err != nil {
		t.Fatal(err)
	}
	edit, _ := s.GetNode(ctx, n.ID)
	edit.Weight = 7
	if got, err = s.UpdateNode(ctx, edit); err != nil || got.PrevSecret == nil || got.SecretVersion != edit.SecretVersion {
		t.Fatalf("edit keeping the secret: %v, PrevSecret kept %v, version %d -> %d", err, got.PrevSecret != nil, edit.SecretVersion, got.SecretVersion)
	}
	edit.Secret = []byte("a-secret-given-by-hand")
	if got, err = s.UpdateNode(ctx, edit); err != nil || got.PrevSecret != nil || got.SecretVersion != edit.SecretVersion+1 {
		t.Fatalf("edit of the secret: %v, PrevSecret kept %v, version %d -> %d", err, got.PrevSecret != nil, edit.SecretVersion, got.SecretVersion)
	}

	if err := s.SetNodeSecrets(ctx, n.ID, nil, old); !errors.Is(err, ErrInvalid) {
		t.Errorf("an empty secret: %v, want ErrInvalid", err)
	}
	if err := s.SetNodeSecrets(ctx, 999, next, nil); !errors.Is(err, ErrNodeNotFound) {
		t.Errorf("an unknown node: %v, want ErrNodeNotFound", err)
	}
}
