package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/wgfleet/wgfleet/controller/store"
)

// ConflictError is a field whose value clashes with what another node or
// peer already has (an overlapping pool, a peer name taken on the node):
// it says which field and why, like a *ValidationError, but is a conflict
// (store.ErrConflict, 409), not a malformed value.
type ConflictError struct {
	Field   string // JSON name of the field, e.g. "ip_pool_cidr"
	Message string // for a person: what it clashes with and what to do
}

func (e *ConflictError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }
func (e *ConflictError) Unwrap() error { return store.ErrConflict }

// checkNodeFree refuses a new node n whose name is taken (store.ErrConflict)
// or whose pools overlap another node's (checkPoolsApart).
func checkNodeFree(ctx context.Context, tx *store.Tx, n store.Node, allowOverlap bool) error {
	if _, err := tx.GetNodeByName(ctx, n.Name); err == nil {
		return fmt.Errorf("name %q: %w", n.Name, store.ErrConflict)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return checkPoolsApart(ctx, tx, n, store.Node{}, allowOverlap)
}

// checkPoolsApart refuses n's pools when one overlaps a pool of another
// node (not the node n is, by id), unless allow (the input's
// allow_overlap): two nodes handing out the same addresses give clients
// routes that clash. Only the pools that changed from old are checked, so
// an update that leaves an overlap allowed before alone is not refused.
func checkPoolsApart(ctx context.Context, tx *store.Tx, n, old store.Node, allow bool) error {
	if allow || (n.IPPool == old.IPPool && n.IPPool6 == old.IPPool6) {
		return nil
	}
	nodes, err := tx.ListNodePools(ctx)
	if err != nil {
		return err
	}
	for _, o := range nodes {
		if o.ID == n.ID {
			continue
		}
		for _, pair := range []struct {
			field       string
			mine, other netip.Prefix
			changed     bool
		}{
			{"ip_pool_cidr", n.IPPool, o.IPPool, n.IPPool != old.IPPool},
			{"ip_pool6_cidr", n.IPPool6, o.IPPool6, n.IPPool6 != old.IPPool6},
		} {
			if pair.changed && pair.mine.IsValid() && pair.other.IsValid() && pair.mine.Overlaps(pair.other) {
				return &ConflictError{Field: pair.field, Message: fmt.Sprintf(
					"%s overlaps the pool %s of node %s; choose another range, or send \"allow_overlap\": true if the two nodes are meant to share addresses",
					pair.mine, pair.other, o.Name)}
			}
		}
	}
	return nil
}

// checkPeerNameFree refuses name for peer self (0 for a new one) on node
// when another peer of that node has it, letter case aside: a
// *ConflictError on "name" naming that peer. The unique index
// peers_node_name (store.ErrPeerNameTaken) holds the rule when two
// writers race past this check.
func checkPeerNameFree(ctx context.Context, tx *store.Tx, node store.Node, name string, self int64) error {
	p, err := tx.PeerNamed(ctx, node.ID, name)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && p.ID == self:
		return nil
	case err != nil:
		return err
	}
	return &ConflictError{Field: "name", Message: fmt.Sprintf("a peer named %s is already on node %s (peer %d); choose another name", p.Name, node.Name, p.ID)}
}
