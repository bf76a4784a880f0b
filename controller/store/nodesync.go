package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// NodeSync is what a reconcile that compares a node's dump by digest needs
// to know of the node: whether it is on, its interface and that
// interface's key, where its desired generation stands, its drift policy,
// name and status; without its sealed secret, labels and health document.
type NodeSync struct {
	ID                int64
	Name              string
	Enabled           bool
	WGInterface       string
	ServerPublicKey   wgtypes.Key // zero when the agent has not told it
	DesiredGeneration int64
	AckedGeneration   int64
	DriftPolicy       DriftPolicy
	Status            NodeStatus
}

// GetNodeSync returns the node's NodeSync, or ErrNodeNotFound. It reads
// one row's few columns and opens no sealed secret: a reconcile of a quiet
// node costs one index lookup.
func (tx *Tx) GetNodeSync(ctx context.Context, id int64) (NodeSync, error) {
	var (
		n   NodeSync
		key sql.NullString
	)
	err := tx.tx.QueryRowContext(ctx, `SELECT id, name, enabled, wg_interface, server_public_key,
		desired_generation, acked_generation, drift_policy, status FROM nodes WHERE id = ?`, id).Scan(
		&n.ID, &n.Name, &n.Enabled, &n.WGInterface, &key, &n.DesiredGeneration, &n.AckedGeneration, &n.DriftPolicy, &n.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return NodeSync{}, fmt.Errorf("node %d: %w", id, ErrNodeNotFound)
	}
	if err != nil {
		return NodeSync{}, fmt.Errorf("reading node %d: %w", id, err)
	}
	if key.Valid {
		if n.ServerPublicKey, err = agentapi.ParseKey(key.String); err != nil {
			return NodeSync{}, fmt.Errorf("node %d: server_public_key: %w", id, err)
		}
	}
	return n, nil
}
