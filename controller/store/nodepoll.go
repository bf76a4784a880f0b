package store

import (
	"context"
	"fmt"
)

// NodePoll is what a poll cycle reads of every node to choose the ones to
// poll now: whether it is on, and how many polls of it failed in a row
// (its backoff). Each poll then reads its node in full.
type NodePoll struct {
	ID                  int64
	Enabled             bool
	ConsecutiveFailures int
}

// ListNodePolls returns every node's NodePoll in id order; an empty store
// gives an empty slice. It reads three columns: no sealed secret opened,
// no health document or labels read. A poll cycle holds the list while
// its polls run; ListNodes' whole nodes were about 15 MB of it at 10,000
// nodes.
func (tx *Tx) ListNodePolls(ctx context.Context) ([]NodePoll, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT id, enabled, consecutive_failures FROM nodes ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("listing nodes to poll: %w", err)
	}
	defer rows.Close()
	out := []NodePoll{}
	for rows.Next() {
		var n NodePoll
		if err := rows.Scan(&n.ID, &n.Enabled, &n.ConsecutiveFailures); err != nil {
			return nil, fmt.Errorf("listing nodes to poll: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing nodes to poll: %w", err)
	}
	return out, nil
}

// ListNodePolls runs Tx.ListNodePolls in a read-only transaction (View).
func (s *Store) ListNodePolls(ctx context.Context) ([]NodePoll, error) {
	return view(ctx, s, func(tx *Tx) ([]NodePoll, error) { return tx.ListNodePolls(ctx) })
}
