package poller

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// statsPrint identifies what a dump says of a node's traffic: each peer's
// public key, counters and latest handshake, whatever the order of the
// peers. What recordStats compares with the database is exactly that.
type statsPrint [sha256.Size]byte

// printStats returns the statsPrint of peers.
func printStats(peers []agentapi.Peer) statsPrint {
	size := 8
	for _, p := range peers {
		size += len(p.PublicKey) + 4*binary.MaxVarintLen64
	}
	peers = agentapi.PeersByKey(peers)
	buf := make([]byte, 0, size)
	buf = binary.AppendUvarint(buf, uint64(len(peers)))
	for _, p := range peers {
		buf = append(binary.AppendUvarint(buf, uint64(len(p.PublicKey))), p.PublicKey...)
		buf = binary.AppendVarint(buf, p.TransferRx)
		buf = binary.AppendVarint(buf, p.TransferTx)
		if p.LatestHandshake == nil {
			buf = append(buf, 0)
		} else {
			buf = binary.AppendVarint(append(buf, 1), *p.LatestHandshake)
		}
	}
	return sha256.Sum256(buf)
}

// recorded is what the last recordStats of a node left in the database:
// the node's peers' observed counters and handshakes are those of a dump
// whose statsPrint is print, as of the node's desired generation gen.
// Every other write to those columns comes with a change of the node's
// peers (a creation, a move onto the node), which moves its generation, or
// is recordStats itself for this node, under the node's poll lock. So a
// later dump with the same print, at the same generation, would change
// nothing: recordStats need not even read.
type recorded struct {
	gen   int64
	iface string
	print statsPrint
}
