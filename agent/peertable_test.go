package agent

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func (s peerSet) clone() peerSet {
	out := make(peerSet, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

// TestPeerTableMatchesReference: random additions, updates and removals,
// some kept and some rolled back, over a small address space where
// prefixes of many lengths nest. After each, the table's overlap answer
// for a candidate peer is the one a full check of the set gives, and its
// index is the one built afresh from its peers.
func TestPeerTableMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randPrefix := func() netip.Prefix {
		if rng.IntN(5) == 0 {
			a := netip.AddrFrom16([16]byte{0xfd, 0, 15: byte(rng.IntN(64))})
			p, _ := a.Prefix(120 + rng.IntN(9))
			return p
		}
		a := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(2)), byte(rng.IntN(256))})
		bits := []int{8, 16, 22, 24, 26, 28, 30, 31, 32, 32, 32, 32}[rng.IntN(12)]
		p, _ := a.Prefix(bits)
		return p
	}
	randConf := func() peerConf {
		var k wgtypes.Key
		k[0] = byte(rng.IntN(40)) + 1
		var ss []string
		for range rng.IntN(3) {
			ss = append(ss, randPrefix().String())
		}
		return peerConf{Key: k, AllowedIPs: prefixes(t, ss...)}
	}
	tab := newPeerTable(peerSet{})
	for step := range 3000 {
		c := randConf()
		ref := tab.peers.clone()
		ref[c.Key] = c
		wantConflict := ref.checkOverlap() != nil
		err := tab.overlapsWith(c)
		if (err != nil) != wantConflict {
			t.Fatalf("step %d: overlapsWith(%v) = %v, full check says conflict %v", step, c.AllowedIPs, err, wantConflict)
		}
		before := tab.peers.clone()
		m := tab.mark()
		switch {
		case err == nil:
			tab.put(c)
		case rng.IntN(2) == 0 && tab.len() > 0:
			for k := range tab.peers {
				tab.remove(k)
				break
			}
		}
		if rng.IntN(4) == 0 {
			tab.rollbackTo(m)
			samePeers(t, tab.peers, before)
		}
		if rng.IntN(10) == 0 {
			tab.keep()
		}
		checkIndex(t, fmt.Sprintf("step %d", step), tab)
	}
	tab.rollback()
	checkIndex(t, "after rollback", tab)
}

func checkIndex(t *testing.T, when string, tab *peerTable) {
	t.Helper()
	fresh := newPeerTable(tab.peers)
	if len(fresh.owner) != len(tab.owner) || fresh.lens != tab.lens {
		t.Fatalf("%s: index has %d prefixes, a fresh one %d (or the counts differ)", when, len(tab.owner), len(fresh.owner))
	}
	for p, k := range fresh.owner {
		if tab.owner[p] != k {
			t.Fatalf("%s: %s owned by %s, want %s", when, p, tab.owner[p], k)
		}
	}
}

// TestPeerTableChanges: what a batch did is listed once per peer,
// removals first, with the state before and after; a peer put back as it
// was is not a change, and apply and revert are each other's inverse.
func TestPeerTableChanges(t *testing.T) {
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	tab := newPeerTable(peerSet{
		k1: {Key: k1, AllowedIPs: prefixes(t, "10.0.0.2/32")},
		k2: {Key: k2, AllowedIPs: prefixes(t, "10.0.0.3/32"), Keepalive: 25},
	})
	tab.put(peerConf{Key: k2, AllowedIPs: prefixes(t, "10.0.0.3/32", "10.0.1.0/24"), Keepalive: 25})
	tab.remove(k1)
	tab.put(peerConf{Key: k3, AllowedIPs: prefixes(t, "10.0.0.4/32")})
	tab.put(peerConf{Key: k1, AllowedIPs: prefixes(t, "10.0.0.2/32")}) // back as it was
	tab.remove(k3)
	tab.put(peerConf{Key: k3, AllowedIPs: prefixes(t, "10.0.0.5/32")})
	cs := tab.changes()
	if len(cs) != 2 || cs[0].key != k2 || cs[1].key != k3 {
		t.Fatalf("changes %+v, want k2 updated and k3 added", cs)
	}
	if !cs[0].had || !cs[0].has || cs[1].had || !cs[1].has {
		t.Fatalf("changes %+v", cs)
	}
	ap := apply(cs)
	if !ap[0].UpdateOnly || len(ap[0].AllowedIPs) != 2 || ap[1].UpdateOnly || ap[1].Remove {
		t.Errorf("apply: %+v", ap)
	}
	rv := revert(cs)
	if len(rv[0].AllowedIPs) != 1 || !rv[1].Remove {
		t.Errorf("revert: %+v", rv)
	}
	tab.rollback()
	checkIndex(t, "rolled back", tab)
	if tab.len() != 2 {
		t.Fatalf("%d peers after rollback, want 2", tab.len())
	}
}
