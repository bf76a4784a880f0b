package agentapi

import (
	"cmp"
	"slices"
)

// PeersByKey returns peers in public key order: peers itself when they
// are in order already (a dump of our agent is), a sorted copy otherwise;
// peers is never changed.
func PeersByKey(peers []Peer) []Peer {
	byKey := func(a, b Peer) int { return cmp.Compare(a.PublicKey, b.PublicKey) }
	if slices.IsSortedFunc(peers, byKey) {
		return peers
	}
	return slices.SortedFunc(slices.Values(peers), byKey)
}
