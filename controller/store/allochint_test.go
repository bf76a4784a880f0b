package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/wgfleet/wgfleet/controller/ipam"
)

// TestAllocationHintMatchesFullRead: the address a creation takes by its
// node's hint (allochint.go) is, every time, the lowest free one as the
// full read of the node's addresses finds it, through a random run of
// creations, requested addresses, deletions, moves between two nodes,
// restrictions and creation failures, with another Store on the same
// database (another controller, or a replica) changing the node's peers
// behind this one's back. The hint must serve most creations.
func TestAllocationHintMatchesFullRead(t *testing.T) {
	s, _, path := openTest(t)
	other, _ := openAt(t, path, testBox(t, 1))
	ctx := context.Background()
	a := testNode("hint-a")
	a.IPPool = netip.MustParsePrefix("10.9.0.0/26") // 61 usable: the pool fills and frees
	a = mustCreateNode(t, s, a)
	b := mustCreateNode(t, s, testNode("hint-b"))
	rng := rand.New(rand.NewPCG(14, 6))

	// expected is the slow path: the lowest free addresses of the node.
	expected := func(node Node) (netip.Addr, netip.Addr, error) {
		var used4, used6 []netip.Addr
		err := s.View(ctx, func(tx *Tx) error {
			var err error
			used4, used6, err = tx.allocatedAddrs(ctx, node.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		a4, err := ipam.NextFree(node.IPPool, used4)
		if err != nil {
			return netip.Addr{}, netip.Addr{}, err
		}
		a6, err := ipam.NextFree(node.IPPool6, used6)
		return a4, a6, err
	}
	var peers []int64
	hinted, named := 0, 0
	for step := range 600 {
		switch op := rng.IntN(20); {
		case op < 11: // a creation through s, checked against the slow path
			want4, want6, full := expected(a)
			err := s.InTx(ctx, func(tx *Tx) error {
				node, err := tx.GetPeerHome(ctx, a.ID)
				if err != nil {
					return err
				}
				h4, h6, ok, err := tx.hintedAddrs(ctx, node)
				if err != nil {
					return err
				}
				if ok {
					hinted++
					if h4 != want4 || h6 != want6 {
						return fmt.Errorf("step %d: the hint gives %s and %s, the full read %s and %s", step, h4, h6, want4, want6)
					}
				}
				named++
				p, _, err := tx.CreatePeerOnNode(ctx, node, testPeer(t, a.ID, fmt.Sprintf("h%d", named)))
				if err != nil {
					return err
				}
				if full == nil && (p.Address4 != want4 || p.Address6 != want6) {
					return fmt.Errorf("step %d: created with %s and %s, want %s and %s", step, p.Address4, p.Address6, want4, want6)
				}
				peers = append(peers, p.ID)
				if rng.IntN(8) == 0 {
					return errTestRollback // the creation rolled back: its hint must not serve
				}
				return nil
			})
			if errors.Is(err, errTestRollback) {
				peers = peers[:len(peers)-1]
				continue
			}
			if full != nil {
				if err == nil {
					t.Fatalf("step %d: created in a full pool", step)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
		case op < 12: // a requested address
			want4, _, err := expected(a)
			if err != nil {
				continue
			}
			p := testPeer(t, a.ID, fmt.Sprintf("r%d", step))
			p.Address4 = want4.Next()
			if got, err := s.CreatePeerWithAllocation(ctx, p); err == nil {
				peers = append(peers, got.ID)
			}
		case op < 16 && len(peers) > 0: // a deletion, by either store
			i := rng.IntN(len(peers))
			by := s
			if op%2 == 0 {
				by = other
			}
			if _, err := by.DeletePeer(ctx, peers[i]); err != nil {
				t.Fatal(err)
			}
			peers = append(peers[:i], peers[i+1:]...)
		case op < 17 && len(peers) > 0: // a move to b and back, freeing then taking an address
			i := rng.IntN(len(peers))
			if err := s.InTx(ctx, func(tx *Tx) error { _, err := tx.MovePeer(ctx, peers[i], b.ID); return err }); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(2) == 0 {
				if err := other.InTx(ctx, func(tx *Tx) error { _, err := tx.MovePeer(ctx, peers[i], a.ID); return err }); err != nil {
					t.Fatal(err)
				}
			} else {
				peers = append(peers[:i], peers[i+1:]...)
			}
		case op < 18 && len(peers) > 0: // a restriction
			if err := s.SetPeerEnabled(ctx, peers[rng.IntN(len(peers))], rng.IntN(2) == 0); err != nil {
				t.Fatal(err)
			}
		default: // a creation by the other store
			named++
			if got, err := other.CreatePeerWithAllocation(ctx, testPeer(t, a.ID, fmt.Sprintf("o%d", named))); err == nil {
				peers = append(peers, got.ID)
			}
		}
	}
	if hinted < 50 {
		t.Fatalf("the hint served %d creations; the test needs it to serve many", hinted)
	}
}

// errTestRollback rolls back a creation in TestAllocationHintMatchesFullRead.
var errTestRollback = errors.New("test: roll back")
