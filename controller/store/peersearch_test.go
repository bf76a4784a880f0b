package store

import (
	"context"
	"database/sql"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/labels"
)

func peerIDs(ps []Peer) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestSearchPeers(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	euNode := testNode("fra1")
	euNode.Labels = labels.Set{"region": "eu"}
	eu := mustCreateNode(t, s, euNode)
	usNode := testNode("nyc1")
	usNode.Labels = labels.Set{"region": "us"}
	usNode.IPPool = netip.MustParsePrefix("10.9.0.0/24")
	usNode.IPPool6 = netip.MustParsePrefix("fd00:9::/64")
	us := mustCreateNode(t, s, usNode)

	laptop := mustCreatePeer(t, s, testPeer(t, eu.ID, "Alice-Laptop"))
	phone := mustCreatePeer(t, s, testPeer(t, eu.ID, "alice_phone"))
	bob := mustCreatePeer(t, s, testPeer(t, us.ID, "bob-laptop"))
	odd := mustCreatePeer(t, s, testPeer(t, us.ID, "100%"))
	if err := s.SetPeerEnabled(ctx, phone.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetPeerRestriction(ctx, bob.ID, RestrictExpired) }); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetPeerRestriction(ctx, odd.ID, RestrictOverLimit) }); err != nil {
		t.Fatal(err)
	}
	key := bob.PublicKey.String()

	tests := []struct {
		name string
		q    PeerQuery
		want []Peer
	}{
		{"everything", PeerQuery{}, []Peer{laptop, phone, bob, odd}},
		{"name any case", PeerQuery{Text: "LAPTOP"}, []Peer{laptop, bob}},
		{"underscore is literal", PeerQuery{Text: "e_p"}, []Peer{phone}},
		{"percent is literal", PeerQuery{Text: "0%"}, []Peer{odd}},
		{"ipv4 address", PeerQuery{Text: laptop.Address4.String()}, []Peer{laptop}},
		{"ipv6 address", PeerQuery{Text: phone.Address6.String()}, []Peer{phone}},
		{"public key part", PeerQuery{Text: key[3:20]}, []Peer{bob}},
		{"no match", PeerQuery{Text: "carol"}, nil},
		{"node", PeerQuery{NodeID: us.ID}, []Peer{bob, odd}},
		{"active", PeerQuery{Status: PeerActive}, []Peer{laptop}},
		{"restricted", PeerQuery{Status: PeerRestricted}, []Peer{phone}},
		{"expired", PeerQuery{Status: PeerExpired}, []Peer{bob}},
		{"over limit", PeerQuery{Status: PeerOverLimit}, []Peer{odd}},
		{"label", PeerQuery{Labels: labels.Set{"region": "eu"}}, []Peer{laptop, phone}},
		{"label no node", PeerQuery{Labels: labels.Set{"region": "ap"}}, nil},
		{"combined", PeerQuery{Text: "laptop", Labels: labels.Set{"region": "us"}, Status: PeerExpired}, []Peer{bob}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Limit = 100
			got, more, err := s.SearchPeers(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if more || !slices.Equal(peerIDs(got), peerIDs(tt.want)) {
				t.Fatalf("got %v more=%v, want %v", peerIDs(got), more, peerIDs(tt.want))
			}
			for _, p := range got {
				if want := []Peer{laptop, phone, bob, odd}[slices.Index(peerIDs([]Peer{laptop, phone, bob, odd}), p.ID)]; p.Name != want.Name {
					t.Fatalf("peer %d named %q, want %q", p.ID, p.Name, want.Name)
				}
			}
		})
	}

	t.Run("page walk", func(t *testing.T) {
		var walked []int64
		var after int64
		for pages := 0; ; pages++ {
			if pages > 4 {
				t.Fatal("the walk does not end")
			}
			got, more, err := s.SearchPeers(ctx, PeerQuery{AfterID: after, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, peerIDs(got)...)
			if !more {
				break
			}
			after = got[len(got)-1].ID
		}
		all, err := s.ListAllPeers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := peerIDs(all)
		slices.Sort(want)
		if !slices.Equal(walked, want) {
			t.Fatalf("walk %v, want %v", walked, want)
		}
	})

	bad := []struct {
		name string
		q    PeerQuery
		want string
	}{
		{"zero limit", PeerQuery{}, "limit"},
		{"status", PeerQuery{Status: "gone", Limit: 1}, "status"},
		{"selector", PeerQuery{Labels: labels.Set{"": "x"}, Limit: 1}, "selector"},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.name, func(t *testing.T) {
			_, _, err := s.SearchPeers(ctx, tt.q)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalid naming %s", err, tt.want)
			}
		})
	}
}

// TestSearchPeersUsesIndexes: on SQLite, the search's query reads a page
// of the whole fleet, of one node and of one status through an index in
// id order (EXPLAIN QUERY PLAN): no scan of every peer, no sort. Only a
// text search reads every peer, since a substring cannot use a b-tree.
func TestSearchPeersUsesIndexes(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	s, _, _ := openTest(t)
	tests := []struct {
		name string
		q    PeerQuery
		want string // in the plan
	}{
		{"every peer", PeerQuery{Limit: 100}, "USING INTEGER PRIMARY KEY"},
		{"one node", PeerQuery{NodeID: 3, AfterID: 700, Limit: 100}, "USING INDEX peers_node_id (node_id=? AND id>?)"},
		{"restricted", PeerQuery{Status: PeerRestricted, Limit: 100}, "USING INDEX peers_status (<expr>=? AND id>?)"},
		{"over its limit", PeerQuery{Status: PeerOverLimit, AfterID: 9, Limit: 100}, "USING INDEX peers_status (<expr>=? AND id>?)"},
		{"label", PeerQuery{Labels: labels.Set{"region": "eu"}, Limit: 100}, "USING INTEGER PRIMARY KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query, args := searchSQL(tt.q)
			rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "; ")
			if !strings.Contains(text, tt.want) || strings.Contains(text, "SCAN peers") || strings.Contains(text, "TEMP B-TREE") {
				t.Errorf("plan %q, want %q and no scan or sort", text, tt.want)
			}
		})
	}
}

// peerSearchMigration is the version that indexed peers by node and by
// status for the search.
const peerSearchMigration = 17

// peerSearchFixture: peers written at 0017, one restricted by hand and
// one expired, are found by their status after every later migration.
func peerSearchFixture() migrationFixture {
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			secret, err := box.Seal([]byte("v17-node-secret"), nodeSecretAAD(17))
			if err != nil {
				t.Fatal(err)
			}
			k1, k2 := newKey(t).PublicKey().String(), newKey(t).PublicKey().String()
			execAll(t, db,
				`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
				 VALUES (17, 'v17-node', 'https://v17.example.net', '`+secret+`', '10.17.0.0/24', 1, 1)`,
				`INSERT INTO peers (id, node_id, iface, name, public_key, address4, allowed_ips, enabled, created_at, updated_at)
				 VALUES (171, 17, 'wg0', 'v17-off', '`+k1+`', '10.17.0.2', '10.17.0.2/32', 0, 1, 1)`,
				`INSERT INTO peers (id, node_id, iface, name, public_key, address4, allowed_ips, restriction, created_at, updated_at)
				 VALUES (172, 17, 'wg0', 'v17-expired', '`+k2+`', '10.17.0.3', '10.17.0.3/32', 'expired', 1, 1)`,
				`INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (17, '10.17.0.2', 171), (17, '10.17.0.3', 172)`,
			)
		},
		check: func(t *testing.T, s *Store) {
			for status, want := range map[PeerStatus]int64{PeerRestricted: 171, PeerExpired: 172} {
				got, _, err := s.SearchPeers(context.Background(), PeerQuery{NodeID: 17, Status: status, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || got[0].ID != want {
					t.Fatalf("v17 peers %s after migration: %v, want %d", status, peerIDs(got), want)
				}
			}
		},
	}
}
