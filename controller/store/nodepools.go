package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
)

// NodePools is a node's name and address pools: what a check of pool
// overlaps needs, without the node's sealed secret and health document.
type NodePools struct {
	ID      int64
	Name    string
	IPPool  netip.Prefix
	IPPool6 netip.Prefix // zero when the node has none
}

// ListNodePools returns every node's pools, in id order. It reads three
// columns and opens no sealed secret, so checking a new node's pools
// against thousands of nodes stays a cheap scan.
func (tx *Tx) ListNodePools(ctx context.Context) ([]NodePools, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT id, name, ip_pool_cidr, ip_pool6_cidr FROM nodes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing node pools: %w", err)
	}
	defer rows.Close()
	var out []NodePools
	for rows.Next() {
		var (
			p     NodePools
			pool4 string
			pool6 sql.NullString
		)
		if err := rows.Scan(&p.ID, &p.Name, &pool4, &pool6); err != nil {
			return nil, fmt.Errorf("listing node pools: %w", err)
		}
		if p.IPPool, err = netip.ParsePrefix(pool4); err != nil {
			return nil, fmt.Errorf("listing node pools: node %d: ip_pool_cidr: %w", p.ID, err)
		}
		if p.IPPool6, err = parseNullPrefix(pool6); err != nil {
			return nil, fmt.Errorf("listing node pools: node %d: ip_pool6_cidr: %w", p.ID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing node pools: %w", err)
	}
	return out, nil
}
