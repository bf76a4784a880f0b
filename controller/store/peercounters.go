package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// PeerCounters is what polling observed of a peer, and the totals it
// added up: the columns RecordPeerStats writes, without the peer's keys
// and settings.
type PeerCounters struct {
	ID            int64
	PublicKey     wgtypes.Key
	LastHandshake time.Time // zero if none
	RxBytes       int64     // last observed counters
	TxBytes       int64
	RxTotal       int64 // cumulative
	TxTotal       int64
}

// ListPeerCounters returns the counters of the peers of one node's
// interface, in id order; none for an unknown node. It opens no sealed
// key, so a poll's comparison of thousands of peers costs one index scan.
func (tx *Tx) ListPeerCounters(ctx context.Context, nodeID int64, iface string) ([]PeerCounters, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT id, public_key, last_handshake, rx_bytes, tx_bytes, rx_total, tx_total
		FROM peers WHERE node_id = ? AND iface = ? ORDER BY id`, nodeID, iface)
	if err != nil {
		return nil, fmt.Errorf("listing peer counters of node %d: %w", nodeID, err)
	}
	defer rows.Close()
	var out []PeerCounters
	for rows.Next() {
		var (
			c         PeerCounters
			pub       string
			handshake sql.NullInt64
		)
		if err := rows.Scan(&c.ID, &pub, &handshake, &c.RxBytes, &c.TxBytes, &c.RxTotal, &c.TxTotal); err != nil {
			return nil, fmt.Errorf("listing peer counters of node %d: %w", nodeID, err)
		}
		if c.PublicKey, err = agentapi.ParseKey(pub); err != nil {
			return nil, fmt.Errorf("listing peer counters of node %d: peer %d: public_key: %w", nodeID, c.ID, err)
		}
		c.LastHandshake = fromNullTime(handshake)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing peer counters of node %d: %w", nodeID, err)
	}
	return out, nil
}
