package tunnel

import (
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// record is the peer configuration this package has given the device, so
// that a batch the device refuses part-way can be undone without reading
// the whole device back before every batch. It follows wireguard-go's
// handling of each PeerConfig verb, including that an allowed IP belongs to
// one peer at a time: giving it to a peer takes it from another. Changes
// made through the UAPI socket by others (wg set) are not in it.
type record struct {
	peers map[wgtypes.Key]*peerRecord
	owner map[netip.Prefix]wgtypes.Key // which peer each allowed IP routes to
}

// peerRecord is the configuration of one peer.
type peerRecord struct {
	psk       wgtypes.Key
	endpoint  netip.AddrPort // zero when none was configured
	keepalive time.Duration
	allowed   []netip.Prefix // masked, in the order given
}

func newRecord() *record {
	return &record{peers: make(map[wgtypes.Key]*peerRecord), owner: make(map[netip.Prefix]wgtypes.Key)}
}

// journal holds, for each peer a batch touched, its configuration before
// the batch, in the order the batch first touched it.
type journal []journalEntry

type journalEntry struct {
	key    wgtypes.Key
	before *peerRecord // nil when the peer did not exist
}

// apply records changes, which WriteConfig has accepted, and returns what
// revert and undo need to go back.
func (r *record) apply(changes []wgtypes.PeerConfig) journal {
	var j journal
	touched := make(map[wgtypes.Key]bool)
	touch := func(k wgtypes.Key) {
		if touched[k] {
			return
		}
		touched[k] = true
		var before *peerRecord
		if p := r.peers[k]; p != nil {
			cp := *p
			cp.allowed = slices.Clone(p.allowed)
			before = &cp
		}
		j = append(j, journalEntry{key: k, before: before})
	}
	for _, c := range changes {
		k := c.PublicKey
		p := r.peers[k]
		if c.Remove {
			if p != nil {
				touch(k)
				r.release(k, p.allowed...)
				delete(r.peers, k)
			}
			continue
		}
		if p == nil && c.UpdateOnly {
			continue
		}
		touch(k)
		if p == nil {
			p = &peerRecord{}
			r.peers[k] = p
		}
		if c.PresharedKey != nil {
			p.psk = *c.PresharedKey
		}
		if c.Endpoint != nil {
			p.endpoint, _ = endpointAddrPort(c.Endpoint)
		}
		if c.PersistentKeepaliveInterval != nil {
			p.keepalive = *c.PersistentKeepaliveInterval
		}
		if c.ReplaceAllowedIPs {
			r.release(k, p.allowed...)
		}
		for _, n := range c.AllowedIPs {
			pfx, _ := ipNetPrefix(n)
			if prev, ok := r.owner[pfx]; ok {
				if prev == k {
					continue
				}
				touch(prev)
				r.release(prev, pfx)
			}
			r.owner[pfx] = k
			p.allowed = append(p.allowed, pfx)
		}
	}
	return j
}

// release takes allowed IPs pfxs, which may be k's own slice, from peer k.
func (r *record) release(k wgtypes.Key, pfxs ...netip.Prefix) {
	p := r.peers[k]
	for _, pfx := range slices.Clone(pfxs) {
		if r.owner[pfx] == k {
			delete(r.owner, pfx)
		}
		p.allowed = slices.DeleteFunc(p.allowed, func(a netip.Prefix) bool { return a == pfx })
	}
}

// revert puts the record back as it was before the batch j was applied.
func (r *record) revert(j journal) {
	for _, e := range j {
		if p := r.peers[e.key]; p != nil {
			r.release(e.key, p.allowed...)
			delete(r.peers, e.key)
		}
	}
	for _, e := range j {
		if e.before == nil {
			continue
		}
		p := *e.before
		p.allowed = slices.Clone(e.before.allowed)
		r.peers[e.key] = &p
		for _, pfx := range p.allowed {
			r.owner[pfx] = e.key
		}
	}
}

// undo returns the changes that bring every peer the batch j touched back
// to its configuration before the batch, however much of the batch the
// device applied: a peer that was not there is removed; a peer that was
// gets back each setting the batch changed, or all of them if the batch
// removed it. The UAPI cannot take an endpoint away, so a peer that had
// none and was given one is removed and added back. (A peer added back
// starts without a session.) r is the record with the whole batch applied.
func (r *record) undo(j journal) []wgtypes.PeerConfig {
	var out []wgtypes.PeerConfig
	for _, e := range j {
		b, now := e.before, r.peers[e.key]
		if b == nil {
			out = append(out, wgtypes.PeerConfig{PublicKey: e.key, Remove: true})
			continue
		}
		full := now == nil || (!b.endpoint.IsValid() && now.endpoint.IsValid())
		if full && !b.endpoint.IsValid() {
			// The device may hold an endpoint from the batch even if the
			// batch went on to remove the peer and never got there.
			out = append(out, wgtypes.PeerConfig{PublicKey: e.key, Remove: true})
		}
		c := wgtypes.PeerConfig{PublicKey: e.key}
		if full || now.psk != b.psk {
			c.PresharedKey = &b.psk
		}
		if b.endpoint.IsValid() && (full || now.endpoint != b.endpoint) {
			c.Endpoint = net.UDPAddrFromAddrPort(b.endpoint)
		}
		if full || now.keepalive != b.keepalive {
			c.PersistentKeepaliveInterval = &b.keepalive
		}
		if full || !slices.Equal(now.allowed, b.allowed) {
			c.ReplaceAllowedIPs = true
			for _, pfx := range b.allowed {
				c.AllowedIPs = append(c.AllowedIPs, net.IPNet{
					IP:   pfx.Addr().AsSlice(),
					Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen()),
				})
			}
		}
		out = append(out, c)
	}
	return out
}
