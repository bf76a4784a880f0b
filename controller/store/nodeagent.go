package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// nodeAgentColumns are nodeColumns with the health document read as NULL.
var nodeAgentColumns = strings.Replace(nodeColumns, "health_json", "NULL", 1)

// GetNodeAgent returns node id as GetNode does but without its health
// document (HealthJSON nil) and its labels (Labels nil), or
// ErrNodeNotFound: what a call to the node's agent needs (the agent
// client's fields, its secrets opened; the interface, its key, whether
// the node is on) in one narrow read. A push reads its node this way for
// every creation, where the health document, kilobytes of JSON rewritten
// by every poll, and a second query for the labels cost more than the rest
// of the read. Never write the result back as a whole node.
func (tx *Tx) GetNodeAgent(ctx context.Context, id int64) (Node, error) {
	n, err := tx.scanNode(tx.tx.QueryRowContext(ctx, "SELECT "+nodeAgentColumns+" FROM nodes WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Node{}, fmt.Errorf("node %d: %w", id, ErrNodeNotFound)
	}
	if err != nil {
		return Node{}, fmt.Errorf("reading node %d: %w", id, err)
	}
	return n, nil
}
