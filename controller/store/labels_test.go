package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/labels"
)

// nodeLabelsMigration is the version that added node_labels.
const nodeLabelsMigration = 10

// TestNodeLabels: labels are stored with the node, read back by every
// read, replaced (or cleared) by UpdateNode, refused whole when one breaks
// a rule, and go with the node when it is deleted.
func TestNodeLabels(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)

	n := testNode("labelled")
	n.Labels = labels.Set{"region": "eu-west", "provider": "hetzner"}
	created := mustCreateNode(t, s, n)
	if !created.Labels.Equal(n.Labels) {
		t.Fatalf("created node labels %v, want %v", created.Labels, n.Labels)
	}
	bare := testNode("bare")
	bare.IPPool = netip.MustParsePrefix("10.20.0.0/24")
	bare = mustCreateNode(t, s, bare)
	if bare.Labels != nil {
		t.Errorf("node without labels reads %#v, want nil", bare.Labels)
	}
	byName, err := s.GetNodeByName(ctx, "LABELLED")
	if err != nil || !byName.Labels.Equal(n.Labels) {
		t.Fatalf("GetNodeByName labels %v, %v; want %v", byName.Labels, err, n.Labels)
	}
	all, err := s.ListNodes(ctx)
	if err != nil || len(all) != 2 || !all[0].Labels.Equal(n.Labels) || all[1].Labels != nil {
		t.Fatalf("ListNodes = %+v, %v", all, err)
	}

	// A bad label refuses the whole update: nothing else changes either.
	bad := created
	bad.Weight = 7
	bad.Labels = labels.Set{"region": "us-east", "Tier": "gold"}
	if _, err := s.UpdateNode(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("UpdateNode with label Tier = %v, want ErrInvalid", err)
	}
	if got, _ := s.GetNode(ctx, created.ID); got.Weight != created.Weight || !got.Labels.Equal(n.Labels) {
		t.Fatalf("after a refused update: weight %d labels %v; want them unchanged", got.Weight, got.Labels)
	}
	if _, err := s.CreateNode(ctx, Node{Name: "x", AgentURL: "http://x", Secret: []byte("s"), IPPool: netip.MustParsePrefix("10.21.0.0/24"),
		Labels: labels.Set{"region": "eu west"}}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `label "region"`) {
		t.Fatalf("CreateNode with a bad label = %v, want ErrInvalid", err)
	}
	if _, err := s.GetNodeByName(ctx, "x"); !errors.Is(err, ErrNodeNotFound) {
		t.Fatalf("refused node was created: %v", err)
	}

	// Replace, then clear.
	up := created
	up.Labels = labels.Set{"region": "us-east"}
	if got, err := s.UpdateNode(ctx, up); err != nil || got.Labels.String() != "region=us-east" {
		t.Fatalf("UpdateNode labels = %v, %v; want region=us-east", got.Labels, err)
	}
	up.Labels = labels.Set{}
	if got, err := s.UpdateNode(ctx, up); err != nil || got.Labels != nil {
		t.Fatalf("UpdateNode clearing labels = %v, %v; want none", got.Labels, err)
	}

	// Deleting the node deletes its labels.
	up.Labels = labels.Set{"region": "us-east"}
	if _, err := s.UpdateNode(ctx, up); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNode(ctx, created.ID, false); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := rawQueryRow(ctx, s, "SELECT count(*) FROM node_labels WHERE node_id = ?", created.ID).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d labels of a deleted node left (%v)", left, err)
	}
}

// TestListNodesMatching: a selector keeps the nodes carrying every one of
// its labels; several labels AND together.
func TestListNodesMatching(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	for i, l := range []labels.Set{
		{"region": "eu-west", "provider": "hetzner"},
		{"region": "eu-west", "provider": "ovh"},
		{"region": "us-east", "provider": "hetzner"},
		nil,
	} {
		n := testNode(fmt.Sprintf("n%d", i))
		n.IPPool = netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/24", 30+i))
		n.Labels = l
		mustCreateNode(t, s, n)
	}
	tests := []struct {
		sel  labels.Set
		want []string
	}{
		{nil, []string{"n0", "n1", "n2", "n3"}},
		{labels.Set{"region": "eu-west"}, []string{"n0", "n1"}},
		{labels.Set{"provider": "hetzner"}, []string{"n0", "n2"}},
		{labels.Set{"region": "eu-west", "provider": "hetzner"}, []string{"n0"}},
		{labels.Set{"region": "eu-west", "provider": "aws"}, nil},
		{labels.Set{"region": "EU-WEST"}, nil},
	}
	for _, tt := range tests {
		nodes, err := s.ListNodesMatching(ctx, tt.sel)
		if err != nil {
			t.Fatalf("ListNodesMatching(%v): %v", tt.sel, err)
		}
		var got []string
		for _, n := range nodes {
			if !n.Labels.Matches(tt.sel) {
				t.Errorf("ListNodesMatching(%v) gave %s with labels %v", tt.sel, n.Name, n.Labels)
			}
			got = append(got, n.Name)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ListNodesMatching(%v) = %v, want %v", tt.sel, got, tt.want)
		}
	}
	if _, err := s.ListNodesMatching(ctx, labels.Set{"Region": "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("ListNodesMatching with a bad key = %v, want ErrInvalid", err)
	}
}

// TestNodeLabelsManyNodes: labels of more nodes than one read batch holds
// all come back on the right nodes.
func TestNodeLabelsManyNodes(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	const count = labelBatch + 7
	err := s.InTx(ctx, func(tx *Tx) error {
		for i := range count {
			n := testNode(fmt.Sprintf("m%d", i))
			n.IPPool = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
			n.Labels = labels.Set{"index": fmt.Sprint(i)}
			if _, err := tx.CreateNode(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := s.ListNodes(ctx)
	if err != nil || len(nodes) != count {
		t.Fatalf("ListNodes: %d nodes, %v", len(nodes), err)
	}
	for _, n := range nodes {
		if want := "index=" + n.Name[1:]; n.Labels.String() != want {
			t.Fatalf("node %s labels %v, want %s", n.Name, n.Labels, want)
		}
	}
}

// nodeLabelsFixture: at 0010 a node's labels are rows of node_labels,
// unique per key.
func nodeLabelsFixture() migrationFixture {
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			secret, err := box.Seal([]byte("v10-node-secret"), nodeSecretAAD(10))
			if err != nil {
				t.Fatal(err)
			}
			execAll(t, db,
				`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
				 VALUES (10, 'v10-node', 'https://v10.example.net', '`+secret+`', '10.10.0.0/24', 1, 1)`,
				`INSERT INTO node_labels (node_id, key, value) VALUES (10, 'region', 'eu-west'), (10, 'provider', 'hetzner')`,
			)
			if _, err := db.Exec(`INSERT INTO node_labels (node_id, key, value) VALUES (10, 'region', 'us-east')`); err == nil {
				t.Fatal("a second region label on one node was accepted")
			}
		},
		check: func(t *testing.T, s *Store) {
			n, err := s.GetNodeByName(context.Background(), "v10-node")
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Labels.String(); got != "provider=hetzner,region=eu-west" {
				t.Fatalf("v10 node labels after migration: %q", got)
			}
		},
	}
}
