package agent

import (
	"net/netip"
	"slices"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// peerTable is an interface's live peer set with an index of its allowed
// IPs, changed in place by the committer: every change is recorded in an
// undo log, so a batch is taken back exactly (rollback) or kept (keep),
// and what the batch changed (changes) costs the size of the batch, not
// of the set.
//
// The index maps each allowed IP to the peer holding it and counts the
// prefixes of each length, so that an overlap check of one peer looks up
// the few prefix lengths in use instead of walking every peer.
type peerTable struct {
	peers peerSet
	owner map[netip.Prefix]wgtypes.Key
	// lens counts the prefixes in owner by family (0: IPv4, 1: IPv6) and
	// length.
	lens [2][129]int
	undo []undoEntry
}

// undoEntry is a peer as it was before one change of the batch.
type undoEntry struct {
	key    wgtypes.Key
	before peerConf
	had    bool
}

func newPeerTable(set peerSet) *peerTable {
	t := &peerTable{peers: make(peerSet, len(set)), owner: make(map[netip.Prefix]wgtypes.Key, len(set))}
	for _, c := range set {
		t.set(c)
	}
	return t
}

func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

func (t *peerTable) len() int { return len(t.peers) }

func (t *peerTable) get(k wgtypes.Key) (peerConf, bool) {
	c, ok := t.peers[k]
	return c, ok
}

// put makes conf the configuration of its peer, recording the change.
func (t *peerTable) put(conf peerConf) {
	before, had := t.peers[conf.Key]
	t.undo = append(t.undo, undoEntry{key: conf.Key, before: before, had: had})
	t.set(conf)
}

// remove takes peer k away, recording the change; k must be present.
func (t *peerTable) remove(k wgtypes.Key) {
	before, had := t.peers[k]
	t.undo = append(t.undo, undoEntry{key: k, before: before, had: had})
	t.unset(k)
}

// set and unset change the set and the index without recording. An
// allowed IP held by another peer in the index (possible only half-way
// through a replace-all) changes owner; releasing one leaves an entry
// that another peer holds.
func (t *peerTable) set(conf peerConf) {
	t.release(conf.Key)
	t.peers[conf.Key] = conf
	for _, p := range conf.AllowedIPs {
		if _, ok := t.owner[p]; !ok {
			t.lens[family(p)][p.Bits()]++
		}
		t.owner[p] = conf.Key
	}
}

func (t *peerTable) unset(k wgtypes.Key) {
	t.release(k)
	delete(t.peers, k)
}

func (t *peerTable) release(k wgtypes.Key) {
	old, ok := t.peers[k]
	if !ok {
		return
	}
	for _, p := range old.AllowedIPs {
		if o, ok := t.owner[p]; ok && o == k {
			delete(t.owner, p)
			t.lens[family(p)][p.Bits()]--
		}
	}
}

// mark is the undo position to go back to with rollbackTo.
func (t *peerTable) mark() int { return len(t.undo) }

// rollbackTo takes back every change recorded since m, newest first.
func (t *peerTable) rollbackTo(m int) {
	for n := len(t.undo) - 1; n >= m; n-- {
		e := t.undo[n]
		if e.had {
			t.set(e.before)
		} else {
			t.unset(e.key)
		}
	}
	clear(t.undo[m:])
	t.undo = t.undo[:m]
}

// rollback takes back the whole batch.
func (t *peerTable) rollback() {
	t.rollbackTo(0)
	t.undo = nil
}

// keep ends the batch, keeping its changes. The undo log is dropped, not
// reused: after a replace-all it would hold every peer.
func (t *peerTable) keep() { t.undo = nil }

// peerChange is what a batch did to one peer: before (if had) and after
// (if has). A peer the batch put back as it was is not a change.
type peerChange struct {
	key           wgtypes.Key
	before, after peerConf
	had, has      bool
}

// changes lists what the batch changed, removals first, each group in key
// order for a stable output.
func (t *peerTable) changes() []peerChange {
	seen := make(map[wgtypes.Key]bool, len(t.undo))
	var out []peerChange
	for _, e := range t.undo {
		if seen[e.key] {
			continue
		}
		seen[e.key] = true
		after, has := t.peers[e.key]
		switch {
		case !e.had && !has:
			continue
		case e.had && has && e.before.equal(after):
			continue
		}
		out = append(out, peerChange{key: e.key, before: e.before, after: after, had: e.had, has: has})
	}
	slices.SortFunc(out, func(a, b peerChange) int {
		if a.has != b.has {
			if !a.has {
				return -1
			}
			return 1
		}
		return compareKeys(a.key, b.key)
	})
	return out
}

func compareKeys(a, b wgtypes.Key) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// apply is the UAPI changes that make the device follow cs.
func apply(cs []peerChange) []wgtypes.PeerConfig {
	out := make([]wgtypes.PeerConfig, 0, len(cs))
	for _, c := range cs {
		if !c.has {
			out = append(out, wgtypes.PeerConfig{PublicKey: c.key, Remove: true, UpdateOnly: true})
			continue
		}
		out = append(out, c.after.peerConfig(c.had))
	}
	return out
}

// revert is the UAPI changes that undo cs on the device.
func revert(cs []peerChange) []wgtypes.PeerConfig {
	out := make([]wgtypes.PeerConfig, 0, len(cs))
	for _, c := range cs {
		if !c.had {
			out = append(out, wgtypes.PeerConfig{PublicKey: c.key, Remove: true, UpdateOnly: true})
			continue
		}
		out = append(out, c.before.peerConfig(c.has))
	}
	return out
}

// overlapsWith reports whether conf's allowed IPs overlap those of any
// other peer: for each of conf's prefixes it looks up the shorter (or
// equal) prefixes in use that would contain it, then the longer ones it
// would contain (by enumeration when there are few, else by a scan of the
// prefixes of that length). CIDR ranges are nested or disjoint, so that
// is every overlap.
func (t *peerTable) overlapsWith(conf peerConf) error {
	for _, p := range conf.AllowedIPs {
		fam := family(p)
		for l := 0; l <= p.Bits(); l++ {
			if t.lens[fam][l] == 0 {
				continue
			}
			q, _ := p.Addr().Prefix(l)
			if o, ok := t.owner[q]; ok && o != conf.Key {
				return conflictf("allowed IP %s of peer %s overlaps %s of peer %s", p, conf.Key, q, o)
			}
		}
		maxBits := p.Addr().BitLen()
		for l := p.Bits() + 1; l <= maxBits; l++ {
			n := t.lens[fam][l]
			if n == 0 {
				continue
			}
			if l-p.Bits() < 20 && 1<<(l-p.Bits()) <= n {
				if q, o, ok := t.enumerate(p, l, conf.Key); ok {
					return conflictf("allowed IP %s of peer %s overlaps %s of peer %s", p, conf.Key, q, o)
				}
				continue
			}
			for q, o := range t.owner {
				if o != conf.Key && q.Bits() == l && p.Contains(q.Addr()) {
					return conflictf("allowed IP %s of peer %s overlaps %s of peer %s", p, conf.Key, q, o)
				}
			}
		}
	}
	return nil
}

// enumerate looks up every prefix of length l inside p and returns the
// first held by a peer other than self.
func (t *peerTable) enumerate(p netip.Prefix, l int, self wgtypes.Key) (netip.Prefix, wgtypes.Key, bool) {
	a := p.Addr()
	for range 1 << (l - p.Bits()) {
		q := netip.PrefixFrom(a, l)
		if o, ok := t.owner[q]; ok && o != self {
			return q, o, true
		}
		a = nextAt(a, l)
	}
	return netip.Prefix{}, wgtypes.Key{}, false
}

// nextAt adds one at bit position l (1-based from the top) of a: the
// address of the next prefix of length l.
func nextAt(a netip.Addr, l int) netip.Addr {
	b := a.AsSlice()
	bit := l - 1
	for i := bit / 8; i >= 0; i-- {
		var inc byte = 1
		if i == bit/8 {
			inc = 0x80 >> (bit % 8)
		}
		sum := b[i] + inc
		carry := sum < b[i]
		b[i] = sum
		if !carry {
			break
		}
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}
