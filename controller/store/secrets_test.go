package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestSecretsNotInDatabaseFile writes a node secret and peer keys, forces
// the WAL into the main file, and searches the raw bytes of every database
// file (on PostgreSQL: of a pg_dump of the database) for them in any of
// the usual encodings.
func TestSecretsNotInDatabaseFile(t *testing.T) {
	ctx := context.Background()
	s, _, path := openTest(t)

	secret := []byte("node-hmac-secret-4f1c2a9e77d0b3c5")
	n := testNode("fra1")
	n.Secret = secret
	node := mustCreateNode(t, s, n)
	peer := mustCreatePeer(t, s, testPeer(t, node.ID, "laptop"))
	// Rotate once so old sealed values are overwritten in place too.
	node.Secret = append([]byte(nil), secret...)
	if _, err := s.UpdateNode(ctx, node); err != nil {
		t.Fatal(err)
	}

	var files [][]byte
	if onPostgres() {
		// What a backup of the database holds: pg_dump's output.
		dump, err := pgCluster.Dump(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, dump)
	} else {
		if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(path + suffix)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			files = append(files, b)
		}
	}
	main := files[0]
	if len(main) == 0 {
		t.Fatal("database file is empty")
	}

	// Sanity: the search works on what is meant to be there.
	if !bytes.Contains(main, []byte(peer.PublicKey.String())) {
		t.Fatal("public key not found in the file; the search is broken")
	}
	if !bytes.Contains(main, []byte("v1:")) {
		t.Fatal("no sealed values in the file")
	}

	forms := func(name string, raw []byte) map[string][]byte {
		return map[string][]byte{
			name + " raw":       raw,
			name + " base64":    []byte(base64.StdEncoding.EncodeToString(raw)),
			name + " rawbase64": []byte(base64.RawStdEncoding.EncodeToString(raw)),
			name + " hex":       []byte(hex.EncodeToString(raw)),
		}
	}
	needles := map[string][]byte{}
	for _, m := range []map[string][]byte{
		forms("node secret", secret),
		forms("private key", keyBytes(*peer.PrivateKey)),
		forms("preshared key", keyBytes(*peer.PresharedKey)),
	} {
		for k, v := range m {
			needles[k] = v
		}
	}
	for i, f := range files {
		for name, needle := range needles {
			if bytes.Contains(f, needle) {
				t.Errorf("%s found in clear in database file %d", name, i)
			}
		}
	}
}

func keyBytes(k wgtypes.Key) []byte { return append([]byte(nil), k[:]...) }

// TestSealedValuesBoundToRow copies one node's sealed secret onto another
// row; reading it must fail rather than hand out the wrong secret.
func TestSealedValuesBoundToRow(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	a := mustCreateNode(t, s, testNode("a"))
	b := mustCreateNode(t, s, testNode("b"))
	if _, err := rawExec(ctx, s,
		"UPDATE nodes SET secret_enc = (SELECT secret_enc FROM nodes WHERE id = ?) WHERE id = ?", a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetNode(ctx, b.ID); err == nil {
		t.Fatal("a secret sealed for node a opened on node b")
	}
	if _, err := s.GetNode(ctx, a.ID); err != nil {
		t.Fatal(err)
	}

	p := mustCreatePeer(t, s, testPeer(t, a.ID, "p"))
	if _, err := rawExec(ctx, s,
		"UPDATE peers SET preshared_key_enc = private_key_enc WHERE id = ?", p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPeer(ctx, p.ID); err == nil {
		t.Fatal("a private key opened as the preshared key")
	}
}
