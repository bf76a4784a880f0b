package reconcile

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// dumpDigest identifies the configuration an agent's dump shows: every
// peer's public key, allowed IPs, keepalive and preshared key, as the dump
// gives them. What changes without anyone configuring the agent
// (handshakes, counters, endpoints) is left out, and so is the order of
// the peers and of each peer's allowed IPs. Two dumps with the same digest
// compare the same with any desired state (compare is a function of those
// fields only); a dump that writes the same configuration in other words
// ("10.0.0.1" for "10.0.0.1/32") has another digest, which costs a full
// comparison and nothing else.
type dumpDigest [sha256.Size]byte

// digestDump returns the digest of peers.
func digestDump(peers []agentapi.Peer) dumpDigest {
	size := 0
	for _, p := range peers {
		size += len(p.PublicKey) + 32
		for _, ip := range p.AllowedIPs {
			size += len(ip) + 4
		}
		if p.PresharedKey != nil {
			size += len(*p.PresharedKey)
		}
	}
	peers = agentapi.PeersByKey(peers)
	buf := make([]byte, 0, size+8)
	str := func(s string) { buf = append(binary.AppendUvarint(buf, uint64(len(s))), s...) }
	buf = binary.AppendUvarint(buf, uint64(len(peers)))
	var sorted []string
	for _, p := range peers {
		str(p.PublicKey)
		ips := p.AllowedIPs
		if !slices.IsSorted(ips) {
			sorted = append(sorted[:0], ips...)
			slices.Sort(sorted)
			ips = sorted
		}
		buf = binary.AppendUvarint(buf, uint64(len(ips)))
		for _, ip := range ips {
			str(ip)
		}
		buf = binary.AppendVarint(buf, int64(p.PersistentKeepalive))
		if p.PresharedKey == nil {
			buf = append(buf, 0)
		} else {
			buf = append(buf, 1)
			str(*p.PresharedKey)
		}
	}
	return sha256.Sum256(buf)
}
