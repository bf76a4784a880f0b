package store

import (
	"bytes"
	"context"
	"database/sql"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testBox(t testing.TB, b byte) *secretbox.Box {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{b}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// openTest opens a store in a fresh database of this run's backend
// (testDSN) with a test clock and closes it when the test ends. It returns
// the database's file name or URL.
func openTest(t testing.TB) (*Store, *testenv.Clock, string) {
	t.Helper()
	path := testDSN(t)
	s, c := openAt(t, path, testBox(t, 1))
	return s, c, path
}

func openAt(t testing.TB, path string, box *secretbox.Box) (*Store, *testenv.Clock) {
	t.Helper()
	s, err := Open(context.Background(), path, box)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.pg != nil, IsPostgresURL(path); got != want {
		t.Fatalf("store on %s: PostgreSQL dialect %v, want %v", path, got, want)
	}
	c := testenv.NewClock(testEpoch)
	s.now = c.Now
	t.Cleanup(func() { s.Close() })
	return s, c
}

// rawExec runs SQL written in SQLite's dialect on s's database outside
// the store's methods (to break a rule on purpose), translated on
// PostgreSQL as the store's own statements are.
func rawExec(ctx context.Context, s *Store, q string, args ...any) (sql.Result, error) {
	q, err := sqlTx{pg: s.pg}.translate(q)
	if err != nil {
		return nil, err
	}
	return s.db.ExecContext(ctx, q, args...)
}

// rawQueryRow is rawExec for a query of one row; its error comes from
// Scan.
func rawQueryRow(ctx context.Context, s *Store, q string, args ...any) *row {
	q, err := sqlTx{pg: s.pg}.translate(q)
	if err != nil {
		return &row{err: err}
	}
	return &row{row: s.db.QueryRowContext(ctx, q, args...)}
}

// countRows runs a count(*) query with rawQueryRow; an error fails the
// test.
func countRows(t testing.TB, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := rawQueryRow(context.Background(), s, q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func newKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testNode is a valid node; callers override fields.
func testNode(name string) Node {
	return Node{
		Name:        name,
		AgentURL:    "https://" + name + ".example.net:8443",
		Secret:      []byte("hmac-secret-of-" + name),
		Endpoint:    name + ".example.net:51820",
		IPPool:      netip.MustParsePrefix("10.8.0.0/24"),
		IPPool6:     netip.MustParsePrefix("fd00:8::/64"),
		DNS:         "1.1.1.1",
		Enabled:     true,
		Weight:      DefaultWeight,
		WGInterface: "wg0",
	}
}

func mustCreateNode(t testing.TB, s *Store, n Node) Node {
	t.Helper()
	got, err := s.CreateNode(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// testPeer is a peer whose key pair the controller made.
func testPeer(t testing.TB, nodeID int64, name string) Peer {
	t.Helper()
	priv := newKey(t)
	psk, err := wgtypes.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return Peer{
		NodeID:       nodeID,
		Name:         name,
		PublicKey:    priv.PublicKey(),
		PrivateKey:   &priv,
		PresharedKey: &psk,
		Keepalive:    25 * time.Second,
		Enabled:      true,
	}
}

func mustCreatePeer(t testing.TB, s *Store, p Peer) Peer {
	t.Helper()
	got, err := s.CreatePeerWithAllocation(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
