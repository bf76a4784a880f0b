package store

import (
	"context"
	"fmt"
)

// NodeGenerations returns every node's desired generation by id: the
// leader of several controller replicas reads it often to notice the
// changes other replicas made (a node whose generation moved needs a
// reconcile).
func (s *Store) NodeGenerations(ctx context.Context) (map[int64]int64, error) {
	gens := make(map[int64]int64)
	err := s.InTx(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, "SELECT id, desired_generation FROM nodes")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, gen int64
			if err := rows.Scan(&id, &gen); err != nil {
				return err
			}
			gens[id] = gen
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: node generations: %w", err)
	}
	return gens, nil
}
