package agent

import (
	"net"
	"net/netip"
	"slices"
	"sort"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// peerConf is the desired configuration of one peer, validated and typed:
// what an agentapi.PeerSpec or a POST/PUT body becomes, what the API sets
// and the state file keeps. Endpoint and counters belong to the device.
type peerConf struct {
	Key        wgtypes.Key
	AllowedIPs []netip.Prefix // masked, sorted, no duplicates; empty for none
	PSK        *wgtypes.Key   // nil: none
	Keepalive  int            // seconds, 0: off
}

// peerSet is an interface's whole desired peer set keyed by public key.
type peerSet map[wgtypes.Key]peerConf

func (p peerConf) equal(q peerConf) bool {
	if p.Key != q.Key || p.Keepalive != q.Keepalive || !slices.Equal(p.AllowedIPs, q.AllowedIPs) {
		return false
	}
	if (p.PSK == nil) != (q.PSK == nil) {
		return false
	}
	return p.PSK == nil || *p.PSK == *q.PSK
}

// checkOverlap reports the first pair of allowed IPs held by two different
// peers that overlap. WireGuard would silently move such a range from one
// peer to the other, so the agent refuses it. CIDR ranges are either nested
// or disjoint, so one sorted sweep that tracks the widest range seen so far
// finds every overlap in O(n log n).
func (s peerSet) checkOverlap() error {
	type entry struct {
		p     netip.Prefix
		owner wgtypes.Key
	}
	var all []entry
	for k, conf := range s {
		for _, p := range conf.AllowedIPs {
			all = append(all, entry{p, k})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if c := all[i].p.Addr().Compare(all[j].p.Addr()); c != 0 {
			return c < 0
		}
		return all[i].p.Bits() < all[j].p.Bits()
	})
	var cur *entry
	var curEnd netip.Addr
	for i := range all {
		e := &all[i]
		if cur != nil && e.p.Addr().Is4() == cur.p.Addr().Is4() && e.p.Addr().Compare(curEnd) <= 0 {
			if e.owner != cur.owner {
				return conflictf("allowed IP %s of peer %s overlaps %s of peer %s",
					e.p, e.owner, cur.p, cur.owner)
			}
			if end := lastAddr(e.p); end.Compare(curEnd) > 0 {
				cur, curEnd = e, end
			}
			continue
		}
		cur, curEnd = e, lastAddr(e.p)
	}
	return nil
}

// lastAddr is the highest address inside the masked prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// diff returns the UAPI changes that turn the device from old into next,
// touching only the peers that differ (never replace_peers, which would reset
// every session on the interface). Peers are in key order for a stable output.
func diff(old, next peerSet) []wgtypes.PeerConfig {
	var out []wgtypes.PeerConfig
	for _, k := range sortedKeys(old) {
		if _, ok := next[k]; !ok {
			out = append(out, wgtypes.PeerConfig{PublicKey: k, Remove: true, UpdateOnly: true})
		}
	}
	for _, k := range sortedKeys(next) {
		n := next[k]
		o, existed := old[k]
		if existed && o.equal(n) {
			continue
		}
		out = append(out, n.peerConfig(existed))
	}
	return out
}

// peerConfig is the full configuration of p for one UAPI set; existing
// selects update_only so that a concurrent removal is not undone.
func (p peerConf) peerConfig(existing bool) wgtypes.PeerConfig {
	psk := wgtypes.Key{} // zero key clears the preshared key
	if p.PSK != nil {
		psk = *p.PSK
	}
	ka := time.Duration(p.Keepalive) * time.Second
	cfg := wgtypes.PeerConfig{
		PublicKey:                   p.Key,
		UpdateOnly:                  existing,
		PresharedKey:                &psk,
		PersistentKeepaliveInterval: &ka,
		ReplaceAllowedIPs:           true,
		AllowedIPs:                  make([]net.IPNet, 0, len(p.AllowedIPs)),
	}
	for _, a := range p.AllowedIPs {
		cfg.AllowedIPs = append(cfg.AllowedIPs, net.IPNet{
			IP:   a.Addr().AsSlice(),
			Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen()),
		})
	}
	return cfg
}

func sortedKeys(s peerSet) []wgtypes.Key {
	keys := make([]wgtypes.Key, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return string(keys[i][:]) < string(keys[j][:]) })
	return keys
}
