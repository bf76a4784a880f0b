package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// idChunk bounds the ids of one statement of GetPeers and SetPeersApplied.
const idChunk = 64

// idList returns the placeholders of an IN list for ids and its
// arguments, padded with the last id to a power of two (at most idChunk):
// so a few statement texts serve every length, and each stays in the
// driver's cache of prepared statements beside the store's other
// queries. A repeated id changes neither statement's result.
func idList(ids []int64) (string, []any) {
	n := 1
	for n < len(ids) {
		n *= 2
	}
	args := make([]any, n)
	for i := range args {
		args[i] = ids[min(i, len(ids)-1)]
	}
	return "(?" + strings.Repeat(", ?", n-1) + ")", args
}

// GetPeers returns the peers with the given ids that exist, in id order
// (an id not found is left out, not an error), each as GetPeer reads it:
// one statement for up to 64 ids, where GetPeer is one each.
func (tx *Tx) GetPeers(ctx context.Context, ids []int64) ([]Peer, error) {
	out := []Peer{}
	for chunk := range slices.Chunk(ids, idChunk) {
		in, args := idList(chunk)
		ps, err := tx.listPeers(ctx, "WHERE id IN "+in, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	slices.SortFunc(out, func(a, b Peer) int { return cmp.Compare(a.ID, b.ID) })
	return slices.CompactFunc(out, func(a, b Peer) bool { return a.ID == b.ID }), nil
}

// SetPeersApplied records that the peers' desired state reached their
// nodes, as SetPeerSyncState(id, SyncApplied, "") does for each, in one
// statement for up to 64 ids; an id not found is passed over.
func (tx *Tx) SetPeersApplied(ctx context.Context, ids []int64) error {
	for chunk := range slices.Chunk(ids, idChunk) {
		in, args := idList(chunk)
		if _, err := tx.tx.ExecContext(ctx, "UPDATE peers SET sync_state = 'applied', sync_error = '' WHERE id IN "+in, args...); err != nil {
			return fmt.Errorf("marking %d peers applied: %w", len(chunk), err)
		}
	}
	return nil
}
