package store

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fillForCopy writes one of everything the store keeps and deletes the
// newest node and peer (so the sequences are ahead of the highest ids).
func fillForCopy(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	n1 := mustCreateNode(t, s, testNode("fra1"))
	n2 := mustCreateNode(t, s, testNode("ams1"))
	mustCreatePeer(t, s, testPeer(t, n1.ID, "laptop"))
	mustCreatePeer(t, s, testPeer(t, n1.ID, "phone"))
	p3 := mustCreatePeer(t, s, testPeer(t, n1.ID, "gone"))
	if _, err := s.DeletePeer(ctx, p3.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNode(ctx, n2.ID, false); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, "Alice", "$argon2id$hash")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSession(ctx, Session{TokenHash: HashToken("sess"), UserID: u.ID, CSRFToken: "csrf",
		ExpiresAt: testEpoch.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAPIToken(ctx, "ci", HashToken("tok"), "wgf_abc", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, AuditEntry{Actor: "user:alice", Action: "peer.delete", TargetType: "peer",
		TargetID: "3", Details: []byte(`{"name":"gone"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordNodeHealth(ctx, n1.ID, NodeOnline, []byte(`{"version":"1.2.3"}`), newKey(t).PublicKey(), "", true); err != nil {
		t.Fatal(err)
	}
}

// counts is the store's rows per table.
func counts(t *testing.T, s *Store) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	var cs []TableCount
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		cs, err = s.tableCounts(ctx, tx.tx.tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, c := range cs {
		out[c.Table] = c.Rows
	}
	return out
}

// checkCopy compares a copy with its source: the report and the rows per
// table, and entity by entity, secrets included.
func checkCopy(t *testing.T, src, dst *Store, report CopyReport) {
	t.Helper()
	ctx := context.Background()
	want := counts(t, src)
	got := map[string]int64{}
	for _, c := range report.Tables {
		got[c.Table] = c.Rows
	}
	if !maps.Equal(got, want) {
		t.Errorf("copied %v, want %v", got, want)
	}
	if dc := counts(t, dst); !maps.Equal(dc, want) {
		t.Errorf("the copy holds %v, want %v", dc, want)
	}
	srcNodes, err := src.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dstNodes, err := dst.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dstNodes) != len(srcNodes) || len(dstNodes) == 0 {
		t.Fatalf("%d nodes after the copy, want %d", len(dstNodes), len(srcNodes))
	}
	for i := range srcNodes {
		a, b := srcNodes[i], dstNodes[i]
		if a.ID != b.ID || string(a.Secret) != string(b.Secret) || a.AgentVersion != b.AgentVersion || a.Name != b.Name ||
			a.ServerPublicKey != b.ServerPublicKey || a.DesiredGeneration != b.DesiredGeneration {
			t.Errorf("node %d after the copy: %+v, want %+v", a.ID, b, a)
		}
	}
	srcPeers, err := src.ListAllPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dstPeers, err := dst.ListAllPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dstPeers) != len(srcPeers) || len(dstPeers) == 0 {
		t.Fatalf("%d peers after the copy, want %d", len(dstPeers), len(srcPeers))
	}
	for i := range srcPeers {
		a, b := srcPeers[i], dstPeers[i]
		if a.ID != b.ID || *a.PrivateKey != *b.PrivateKey || *a.PresharedKey != *b.PresharedKey || a.Address4 != b.Address4 {
			t.Errorf("peer %d after the copy: %+v, want %+v", a.ID, b, a)
		}
	}
	if _, err := dst.GetUserByUsername(ctx, "ALICE"); err != nil {
		t.Errorf("user by name in another case after the copy: %v", err)
	}
	if _, err := dst.LookupAPIToken(ctx, HashToken("tok")); err != nil {
		t.Errorf("api token after the copy: %v", err)
	}
}

// TestCopyBothWays copies a SQLite install into an empty PostgreSQL
// database and that into a new SQLite file: every table's rows, the
// sealed secrets still opening under the same master key, and the id
// sequences past the highest id ever handed out, deleted ones included.
func TestCopyBothWays(t *testing.T) {
	if !onPostgres() {
		t.Skip("needs PostgreSQL; runs in the PostgreSQL run")
	}
	ctx := context.Background()
	box := testBox(t, 3)
	litePath := filepath.Join(t.TempDir(), "wgfleet.db")
	lite, _ := openAt(t, litePath, box)
	fillForCopy(t, lite) // peer 3 and node 2 deleted

	pgURL := pgCluster.NewDatabase(t)
	if err := lite.Close(); err != nil {
		t.Fatal(err)
	}
	report, err := Copy(ctx, litePath, pgURL, box)
	if err != nil {
		t.Fatal(err)
	}
	lite, _ = openAt(t, litePath, box)
	pg, _ := openAt(t, pgURL, box)
	checkCopy(t, lite, pg, report)
	node := mustCreateNode(t, pg, testNode("new"))
	if node.ID <= 2 {
		t.Errorf("new node id %d on PostgreSQL, want above the deleted 2", node.ID)
	}
	p := mustCreatePeer(t, pg, testPeer(t, node.ID, "new"))
	if p.ID <= 3 {
		t.Errorf("new peer id %d on PostgreSQL, want above the deleted 3", p.ID)
	}
	if _, err := pg.DeletePeer(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := pg.Close(); err != nil {
		t.Fatal(err)
	}

	lite2Path := filepath.Join(t.TempDir(), "wgfleet.db")
	report, err = Copy(ctx, pgURL, lite2Path, box)
	if err != nil {
		t.Fatal(err)
	}
	pg, _ = openAt(t, pgURL, box)
	lite2, _ := openAt(t, lite2Path, box)
	checkCopy(t, pg, lite2, report)
	if p2 := mustCreatePeer(t, lite2, testPeer(t, node.ID, "newer")); p2.ID <= p.ID {
		t.Errorf("new peer id %d on SQLite, want above %d, deleted on PostgreSQL", p2.ID, p.ID)
	}
}

func TestCopyRefuses(t *testing.T) {
	if !onPostgres() {
		t.Skip("needs PostgreSQL; runs in the PostgreSQL run")
	}
	ctx := context.Background()
	box := testBox(t, 3)
	litePath := filepath.Join(t.TempDir(), "wgfleet.db")
	lite, _ := openAt(t, litePath, box)
	mustCreateNode(t, lite, testNode("fra1"))
	if err := lite.Close(); err != nil {
		t.Fatal(err)
	}
	nonEmpty := pgCluster.NewDatabase(t)
	s, _ := openAt(t, nonEmpty, box)
	if err := s.Close(); err != nil { // the master key check row is a row
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from, to string
		box      int
		want     string
	}{
		{"non-empty target", litePath, nonEmpty, 3, "not empty: table meta holds 1 rows"},
		{"wrong master key", litePath, pgCluster.NewDatabase(t), 4, "master key does not match"},
		{"missing source", filepath.Join(t.TempDir(), "none.db"), pgCluster.NewDatabase(t), 3, "no such file"},
		{"same database", litePath, litePath, 3, "the same database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Copy(ctx, tt.from, tt.to, testBox(t, byte(tt.box)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Copy = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := Copy(ctx, litePath, nonEmpty, box); errors.Is(err, ErrWrongMasterKey) {
		t.Fatal("a non-empty target reported as a wrong key")
	}
}
