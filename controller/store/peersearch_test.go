package store

import (
	"context"
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
