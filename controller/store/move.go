package store

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/wgfleet/wgfleet/controller/ipam"
)

// MovePeer moves a peer to another node, keeping its id, keys, settings
// and cumulative traffic: it takes the next free addresses from the target
// node's pools, frees the old ones, resets the observed counters (they
// belonged to the old node's device) and marks the peer pending. Both
// nodes' desired generations are bumped. Everything happens in the caller's
// transaction.
//
// Errors: ErrPeerNotFound, ErrNodeNotFound, ErrInvalid when the target is
// the peer's own node, ErrNodeFull, ipam.ErrPoolExhausted, ErrConflict when
// the target's interface already has the public key.
func (tx *Tx) MovePeer(ctx context.Context, id, targetNodeID int64) (Peer, error) {
	old, err := tx.GetPeer(ctx, id)
	if err != nil {
		return Peer{}, fmt.Errorf("moving peer: %w", err)
	}
	dst, err := tx.GetNode(ctx, targetNodeID)
	if err != nil {
		return Peer{}, fmt.Errorf("moving peer %d: %w", id, err)
	}
	fail := func(err error) (Peer, error) {
		return Peer{}, fmt.Errorf("moving peer %d to node %s: %w", id, dst.Name, err)
	}
	if dst.ID == old.NodeID {
		return fail(invalidf("the peer is already on this node"))
	}
	if dst.MaxPeers > 0 {
		n, err := tx.CountPeers(ctx, dst.ID)
		if err != nil {
			return fail(err)
		}
		if n >= dst.MaxPeers {
			return fail(fmt.Errorf("%w: %d of %d peers", ErrNodeFull, n, dst.MaxPeers))
		}
	}
	used4, used6, err := tx.allocatedAddrs(ctx, dst.ID)
	if err != nil {
		return fail(err)
	}
	a4, err := ipam.NextFree(dst.IPPool, used4)
	if err != nil {
		return fail(err)
	}
	var a6 netip.Addr
	if dst.IPPool6.IsValid() {
		if a6, err = ipam.NextFree(dst.IPPool6, used6); err != nil {
			return fail(err)
		}
	}
	allowed := []netip.Prefix{ipam.HostPrefix(a4)}
	if a6.IsValid() {
		allowed = append(allowed, ipam.HostPrefix(a6))
	}
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM ip_allocations WHERE peer_id = ?", id); err != nil {
		return fail(err)
	}
	_, err = tx.tx.ExecContext(ctx, `UPDATE peers SET node_id = ?, iface = ?, address4 = ?, address6 = ?, allowed_ips = ?,
		sync_state = 'pending', sync_error = '', last_handshake = NULL, rx_bytes = 0, tx_bytes = 0, updated_at = ?
		WHERE id = ?`,
		dst.ID, dst.WGInterface, a4.String(), nullAddr(a6), prefixList(allowed), tx.now.Unix(), id)
	if isPeerNameClash(err) {
		return fail(fmt.Errorf("name %q on node %s: %w", old.Name, dst.Name, ErrPeerNameTaken))
	}
	if isUnique(err) {
		return fail(fmt.Errorf("public key %s is already on interface %s: %w", old.PublicKey, dst.WGInterface, ErrConflict))
	}
	if err != nil {
		return fail(err)
	}
	for _, a := range []netip.Addr{a4, a6} {
		if !a.IsValid() {
			continue
		}
		_, err := tx.tx.ExecContext(ctx, "INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (?, ?, ?)", dst.ID, a.String(), id)
		if isUnique(err) {
			return fail(fmt.Errorf("%s: %w", a, errAllocationRace))
		}
		if err != nil {
			return fail(err)
		}
	}
	for _, n := range []int64{old.NodeID, dst.ID} {
		if _, err := tx.BumpGeneration(ctx, n); err != nil {
			return fail(err)
		}
	}
	return tx.GetPeer(ctx, id)
}
