package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
)

// GetPeerHome returns what a peer's creation needs of node id, or
// ErrNodeNotFound: ID, Name, WGInterface, IPPool, IPPool6, MaxPeers,
// Enabled, Status and DesiredGeneration, with every other field zero. It opens no sealed
// secret and reads no labels nor health document, so the check and
// allocation inside every peer creation's write transaction cost one
// narrow read. The result is meant for CreatePeerOnNode; never write it
// back as a whole node.
func (tx *Tx) GetPeerHome(ctx context.Context, id int64) (Node, error) {
	var (
		n     Node
		pool4 string
		pool6 sql.NullString
	)
	err := tx.tx.QueryRowContext(ctx, `SELECT id, name, wg_interface, ip_pool_cidr, ip_pool6_cidr, max_peers, enabled, status,
		desired_generation FROM nodes WHERE id = ?`, id).Scan(&n.ID, &n.Name, &n.WGInterface, &pool4, &pool6, &n.MaxPeers, &n.Enabled,
		&n.Status, &n.DesiredGeneration)
	if errors.Is(err, sql.ErrNoRows) {
		return Node{}, fmt.Errorf("node %d: %w", id, ErrNodeNotFound)
	}
	if err != nil {
		return Node{}, fmt.Errorf("reading node %d: %w", id, err)
	}
	if n.IPPool, err = netip.ParsePrefix(pool4); err != nil {
		return Node{}, fmt.Errorf("node %d: ip_pool_cidr: %w", n.ID, err)
	}
	if n.IPPool6, err = parseNullPrefix(pool6); err != nil {
		return Node{}, fmt.Errorf("node %d: ip_pool6_cidr: %w", n.ID, err)
	}
	return n, nil
}
