package storetest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

// seedStore opens a store at a path of its own with two nodes, and
// returns it, its database file and the nodes.
func seedStore(t testing.TB) (*store.Store, string, []store.Node) {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "controller.db")
	st, err := store.Open(context.Background(), path, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var nodes []store.Node
	for i := range 2 {
		n := storetest.Node(fmt.Sprintf("seed-%d", i), "http://127.0.0.1:1", "seed-secret-0123456789abcdef")
		n.IPPool = netip.MustParsePrefix(fmt.Sprintf("10.9.%d.0/24", i))
		created, err := st.CreateNode(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, created)
	}
	return st, path, nodes
}

func TestSeedPeers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pending bool
	}{
		{"applied", false},
		{"pending", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, path, nodes := seedStore(t)
			const perNode = 100
			want, wantSeeded, wantGen := store.SyncApplied, 0, nodes[0].DesiredGeneration
			var forAgents int
			if tc.pending {
				want, wantGen = store.SyncPending, nodes[0].DesiredGeneration+1
				wantSeeded, forAgents = storetest.SeedPendingPeers(t, path, nodes, perNode)
			} else {
				wantSeeded = storetest.SeedPeers(t, path, nodes, perNode)
			}
			if wantSeeded != 2*perNode {
				t.Fatalf("seeded %d peers, want %d", wantSeeded, 2*perNode)
			}
			ctx := context.Background()
			peers, err := st.ListAllPeers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(peers) != 2*perNode {
				t.Fatalf("the store holds %d peers, want %d", len(peers), 2*perNode)
			}
			active := 0
			for _, p := range peers {
				if p.SyncState != want {
					t.Errorf("peer %s is %s, want %s", p.Name, p.SyncState, want)
				}
				if p.Enabled && p.Restriction == "" {
					active++
				}
			}
			if tc.pending && forAgents != active {
				t.Errorf("SeedPendingPeers counted %d peers for the agents, the store holds %d enabled and unrestricted", forAgents, active)
			}
			for _, n := range nodes {
				got, err := st.GetNode(ctx, n.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.DesiredGeneration != wantGen {
					t.Errorf("node %s at generation %d, want %d", n.Name, got.DesiredGeneration, wantGen)
				}
			}
		})
	}
}
