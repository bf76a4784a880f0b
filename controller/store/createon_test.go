package store

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestCreatePeerOnNode: a peer created on the node read in the same
// transaction gets its addresses and bumps the generation as
// CreatePeerWithAllocation does; a node other than the one the peer names
// is refused and nothing is written.
func TestCreatePeerOnNode(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n1 := mustCreateNode(t, s, testNode("n1"))
	n2 := mustCreateNode(t, s, testNode("n2"))
	var (
		created Peer
		gen     int64
	)
	err := s.InTx(ctx, func(tx *Tx) error {
		node, err := tx.GetNode(ctx, n1.ID)
		if err != nil {
			return err
		}
		created, gen, err = tx.CreatePeerOnNode(ctx, node, testPeer(t, n1.ID, "p1"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.NodeID != n1.ID || !created.Address4.IsValid() || created.SyncState != SyncPending {
		t.Errorf("created %+v: want on node %d with an address, pending", created, n1.ID)
	}
	if got, err := s.GetNode(ctx, n1.ID); err != nil || got.DesiredGeneration != n1.DesiredGeneration+1 || gen != got.DesiredGeneration {
		t.Errorf("node generation %d (err %v), creation said %d, want %d", got.DesiredGeneration, err, gen, n1.DesiredGeneration+1)
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		node, err := tx.GetNode(ctx, n2.ID)
		if err != nil {
			return err
		}
		_, _, err = tx.CreatePeerOnNode(ctx, node, testPeer(t, n1.ID, "p2"))
		return err
	})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("peer naming node %d created on node %d: err %v, want ErrInvalid", n1.ID, n2.ID, err)
	}
	if n, err := s.CountPeers(ctx, n1.ID); err != nil || n != 1 {
		t.Errorf("node 1 holds %d peers (err %v), want 1", n, err)
	}
	if n, err := s.CountPeers(ctx, n2.ID); err != nil || n != 0 {
		t.Errorf("node 2 holds %d peers (err %v), want 0", n, err)
	}
}

// TestCreatedPeerIsTheRow: the peer CreatePeerOnNode returns without
// reading it back is the row as GetPeer reads it, for peers with and
// without keys the controller holds, an IPv6 pool or none, an expiry and
// keepalives not in whole seconds, client routes and a limit; and the
// node read by GetPeerHome is the one GetNode reads, as far as a creation
// uses it.
func TestCreatedPeerIsTheRow(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	dual := mustCreateNode(t, s, testNode("dual"))
	v4 := testNode("v4only")
	v4.IPPool, v4.IPPool6, v4.MaxPeers = netip.MustParsePrefix("10.9.0.0/24"), netip.Prefix{}, 10
	only4 := mustCreateNode(t, s, v4)

	own := newKey(t)
	cases := []struct {
		name string
		p    Peer
	}{
		{"controller's keys, dual stack", testPeer(t, dual.ID, "made")},
		{"client's own key, no preshared key, v4 only", Peer{NodeID: only4.ID, Name: "  own  ", PublicKey: own.PublicKey(), Enabled: true}},
		{"everything set", Peer{NodeID: dual.ID, Name: "full", PublicKey: newKey(t).PublicKey(),
			PresharedKey: func() *wgtypes.Key { k := newKey(t); return &k }(),
			Address4:     netip.MustParseAddr("10.8.0.77"), Address6: netip.MustParseAddr("fd00:8::77"),
			ClientAllowedIPs: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fd01::/48")},
			DNS:              "9.9.9.9", Keepalive: 1500 * time.Millisecond, NodeKeepalive: 25*time.Second + time.Millisecond,
			ExpiresAt: testEpoch.Add(48*time.Hour + 300*time.Millisecond), DataLimit: 1 << 30, LimitAction: LimitDelete}},
		{"restricted by hand", Peer{NodeID: only4.ID, Name: "off", PublicKey: newKey(t).PublicKey()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var (
				created, read Peer
				home, node    Node
			)
			err := s.InTx(ctx, func(tx *Tx) error {
				var err error
				if home, err = tx.GetPeerHome(ctx, c.p.NodeID); err != nil {
					return err
				}
				if node, err = tx.GetNode(ctx, c.p.NodeID); err != nil {
					return err
				}
				if created, _, err = tx.CreatePeerOnNode(ctx, home, c.p); err != nil {
					return err
				}
				read, err = tx.GetPeer(ctx, created.ID)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(created, read) {
				t.Errorf("created\n%+v\nthe row reads\n%+v", created, read)
			}
			want := Node{ID: node.ID, Name: node.Name, WGInterface: node.WGInterface, IPPool: node.IPPool,
				IPPool6: node.IPPool6, MaxPeers: node.MaxPeers, Enabled: node.Enabled, Status: node.Status,
				DesiredGeneration: node.DesiredGeneration}
			if !reflect.DeepEqual(home, want) {
				t.Errorf("GetPeerHome %+v, want %+v", home, want)
			}
		})
	}
	if _, err := view(ctx, s, func(tx *Tx) (Node, error) { return tx.GetPeerHome(ctx, 9999) }); !errors.Is(err, ErrNodeNotFound) {
		t.Errorf("GetPeerHome of no node: %v, want ErrNodeNotFound", err)
	}
}
