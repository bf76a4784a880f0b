package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"os"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/controller/secretbox"
)

// TestReseal rotates a real database file from key A to key B: every
// secret reads back under B, A is refused, and nothing is in clear.
func TestReseal(t *testing.T) {
	ctx := context.Background()
	path := testDSN(t)
	boxA, boxB := testBox(t, 0xA), testBox(t, 0xB)
	s, _ := openAt(t, path, boxA)
	n1 := mustCreateNode(t, s, testNode("fra1"))
	n2 := testNode("ams1")
	n2.IPPool = mustPrefix("10.9.0.0/24")
	n2.IPPool6 = mustPrefix("fd00:9::/64")
	n2 = mustCreateNode(t, s, n2)
	p1 := mustCreatePeer(t, s, testPeer(t, n1.ID, "laptop"))
	p2 := testPeer(t, n2.ID, "phone") // the client holds its own key
	p2.PrivateKey = nil
	p2 = mustCreatePeer(t, s, p2)
	p3 := testPeer(t, n1.ID, "router") // no preshared key
	p3.PresharedKey = nil
	p3 = mustCreatePeer(t, s, p3)

	got, err := s.Reseal(ctx, boxB)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Resealed{Nodes: 2, PrivateKeys: 2, PresharedKeys: 2}); got != want {
		t.Fatalf("Reseal = %+v, want %+v", got, want)
	}
	// The open store now seals and opens with B.
	n3 := testNode("waw1")
	n3.IPPool = mustPrefix("10.10.0.0/24")
	n3.IPPool6 = mustPrefix("fd00:10::/64")
	n3 = mustCreateNode(t, s, n3)
	if _, err := s.GetNode(ctx, n1.ID); err != nil {
		t.Fatalf("reading after Reseal: %v", err)
	}
	if !onPostgres() {
		if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := Open(ctx, path, boxA); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("Open with the old key = %v, want ErrWrongMasterKey", err)
	}
	s2, _ := openAt(t, path, boxB)
	for _, want := range []Node{n1, n2, n3} {
		n, err := s2.GetNode(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(n.Secret, want.Secret) {
			t.Errorf("node %s: secret differs after Reseal", want.Name)
		}
	}
	for _, want := range []Peer{p1, p2, p3} {
		p, err := s2.GetPeer(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameKey(p.PrivateKey, want.PrivateKey) || !sameKey(p.PresharedKey, want.PresharedKey) {
			t.Errorf("peer %s: keys differ after Reseal", want.Name)
		}
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	needles := map[string][]byte{
		"node secret":   n1.Secret,
		"private key":   keyBytes(*p1.PrivateKey),
		"preshared key": keyBytes(*p1.PresharedKey),
	}
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for name, raw := range needles {
			if bytes.Contains(b, raw) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(raw))) {
				t.Errorf("%s found in clear in %q", name, "c.db"+suffix)
			}
		}
	}
}

// TestResealFailureChangesNothing breaks the last value Reseal reaches
// (after it has rewritten the others in its transaction): everything is
// rolled back and the store keeps its key.
func TestResealFailureChangesNothing(t *testing.T) {
	ctx := context.Background()
	path := testDSN(t)
	boxA, boxB := testBox(t, 0xA), testBox(t, 0xB)
	s, _ := openAt(t, path, boxA)
	n := mustCreateNode(t, s, testNode("fra1"))
	p1 := mustCreatePeer(t, s, testPeer(t, n.ID, "laptop"))
	p2 := mustCreatePeer(t, s, testPeer(t, n.ID, "phone"))
	// p1's sealed preshared key on p2's row does not open: bound to the row.
	if _, err := rawExec(ctx, s,
		"UPDATE peers SET preshared_key_enc = (SELECT preshared_key_enc FROM peers WHERE id = ?) WHERE id = ?", p1.ID, p2.ID); err != nil {
		t.Fatal(err)
	}
	before := sealedSnapshot(t, s)

	_, err := s.Reseal(ctx, boxB)
	if !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("Reseal over a corrupted value = %v, want secretbox.ErrOpen", err)
	}
	if after := sealedSnapshot(t, s); !bytes.Equal(before, after) {
		t.Fatal("a failed Reseal changed sealed values")
	}
	// The open store still uses A.
	if got, err := s.GetPeer(ctx, p1.ID); err != nil || !sameKey(got.PrivateKey, p1.PrivateKey) {
		t.Fatalf("GetPeer after a failed Reseal = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path, boxB); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("Open with the new key after a failed Reseal = %v, want ErrWrongMasterKey", err)
	}
	s2, _ := openAt(t, path, boxA)
	got, err := s2.GetNode(ctx, n.ID)
	if err != nil || !bytes.Equal(got.Secret, n.Secret) {
		t.Fatalf("node after a failed Reseal: %v", err)
	}
}

func TestResealNilBox(t *testing.T) {
	s, _, _ := openTest(t)
	if _, err := s.Reseal(context.Background(), nil); err == nil {
		t.Fatal("Reseal(nil) succeeded")
	}
}

// sealedSnapshot is every sealed value in the database, in a fixed order.
func sealedSnapshot(t *testing.T, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, q := range []string{
		"SELECT id || ':' || secret_enc FROM nodes ORDER BY id",
		"SELECT id || ':' || COALESCE(private_key_enc, '-') || ':' || COALESCE(preshared_key_enc, '-') FROM peers ORDER BY id",
		"SELECT key || ':' || value FROM meta ORDER BY key",
	} {
		rows, err := s.db.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			buf.WriteString(v + "\n")
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Contains(buf.Bytes(), []byte("v1:")) {
		t.Fatal("snapshot holds no sealed value")
	}
	return buf.Bytes()
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// sameKey reports whether two optional keys are equal (both nil counts).
func sameKey(a, b *wgtypes.Key) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
