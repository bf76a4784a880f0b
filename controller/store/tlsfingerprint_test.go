package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// tlsFingerprintMigration is the version that added nodes.tls_fingerprint.
const tlsFingerprintMigration = 9

// TestNodeTLSFingerprint: a pin is stored on create and edit, read back
// the same, needs an https agent URL, and is changed alone by
// SetNodeTLSFingerprint only for the agent URL it was learned from.
func TestNodeTLSFingerprint(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	fp1 := agentapi.FingerprintOf([]byte("cert one"))
	fp2 := agentapi.FingerprintOf([]byte("cert two"))

	plain := mustCreateNode(t, s, testNode("unpinned"))
	if !plain.TLSFingerprint.IsZero() {
		t.Fatalf("new node without a pin has fingerprint %v", plain.TLSFingerprint)
	}

	in := testNode("pinned")
	in.TLSFingerprint = fp1
	n := mustCreateNode(t, s, in)
	if n.TLSFingerprint != fp1 {
		t.Fatalf("created with pin %v, read back %v", fp1, n.TLSFingerprint)
	}

	bad := testNode("pinned-http")
	bad.AgentURL = "http://pinned-http.example.net:8080"
	bad.TLSFingerprint = fp1
	if _, err := s.CreateNode(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("pin on an http URL: %v, want ErrInvalid", err)
	}
	n.AgentURL = "http://pinned.example.net:8080"
	if _, err := s.UpdateNode(ctx, n); !errors.Is(err, ErrInvalid) {
		t.Fatalf("edit to http keeping the pin: %v, want ErrInvalid", err)
	}

	n, err := s.GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	n.TLSFingerprint = fp2
	if n, err = s.UpdateNode(ctx, n); err != nil || n.TLSFingerprint != fp2 {
		t.Fatalf("edit to pin %v: read back %v, %v", fp2, n.TLSFingerprint, err)
	}

	if err := s.SetNodeTLSFingerprint(ctx, n.ID, n.AgentURL, fp1); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetNode(ctx, n.ID); got.TLSFingerprint != fp1 {
		t.Fatalf("after SetNodeTLSFingerprint: %v, want %v", got.TLSFingerprint, fp1)
	}
	if err := s.SetNodeTLSFingerprint(ctx, n.ID, "https://elsewhere.example.net", fp2); !errors.Is(err, ErrConflict) {
		t.Fatalf("pin for another agent URL: %v, want ErrConflict", err)
	}
	if got, _ := s.GetNode(ctx, n.ID); got.TLSFingerprint != fp1 {
		t.Fatalf("a pin for another agent URL changed it: %v, want %v", got.TLSFingerprint, fp1)
	}
	if err := s.SetNodeTLSFingerprint(ctx, 9999, "https://x.example.net", fp2); !errors.Is(err, ErrNodeNotFound) {
		t.Fatalf("pin on a missing node: %v, want ErrNodeNotFound", err)
	}
	if err := s.SetNodeTLSFingerprint(ctx, plain.ID, "http://x.example.net", fp2); !errors.Is(err, ErrInvalid) {
		t.Fatalf("pin with an http URL: %v, want ErrInvalid", err)
	}
	if err := s.SetNodeTLSFingerprint(ctx, n.ID, n.AgentURL, agentapi.Fingerprint{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetNode(ctx, n.ID); err != nil || !got.TLSFingerprint.IsZero() {
		t.Fatalf("after unpinning: %v, want none (%v)", got.TLSFingerprint, err)
	}
}

// tlsFingerprintFixture: at 0009 a node carries a pin of 64 characters
// or none; anything else is refused by the schema.
func tlsFingerprintFixture() migrationFixture {
	fp := agentapi.FingerprintOf([]byte("v9 cert"))
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			secret, err := box.Seal([]byte("v9-node-secret"), nodeSecretAAD(9))
			if err != nil {
				t.Fatal(err)
			}
			execAll(t, db,
				`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, tls_fingerprint, created_at, updated_at)
				 VALUES (9, 'v9-node', 'https://v9.example.net', '`+secret+`', '10.9.0.0/24', '`+fp.String()+`', 1, 1)`,
			)
			if _, err := db.Exec(`UPDATE nodes SET tls_fingerprint = 'abc' WHERE id = 9`); err == nil {
				t.Fatal("tls_fingerprint = 'abc' accepted")
			}
		},
		check: func(t *testing.T, s *Store) {
			n, err := s.GetNodeByName(context.Background(), "v9-node")
			if err != nil {
				t.Fatal(err)
			}
			if n.TLSFingerprint != fp || string(n.Secret) != "v9-node-secret" {
				t.Fatalf("v9 node after migration: fingerprint %v, want %v", n.TLSFingerprint, fp)
			}
			// Nodes from before 0009 have nothing pinned.
			if v8, err := s.GetNodeByName(context.Background(), "v8-node"); err == nil && !v8.TLSFingerprint.IsZero() {
				t.Fatalf("v8 node fingerprint %v after migration, want none", v8.TLSFingerprint)
			}
		},
	}
}
