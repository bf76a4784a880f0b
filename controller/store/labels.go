package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wgfleet/wgfleet/controller/labels"
)

// Node labels live in node_labels, one row per label; a Node carries them
// in Labels. These helpers read and write them for the node methods.

// ListNodesMatching returns the nodes that carry every label of sel with
// the same value, in id order; an empty sel gives every node (as
// ListNodes). A selector that breaks the rules of labels.Check matches no
// node and is ErrInvalid.
func (tx *Tx) ListNodesMatching(ctx context.Context, sel labels.Set) ([]Node, error) {
	if err := labels.Check(sel); err != nil {
		return nil, fmt.Errorf("listing nodes by label: %w", invalidf("selector %v", err))
	}
	var (
		where strings.Builder
		args  []any
	)
	for i, k := range slices.Sorted(maps.Keys(sel)) {
		if i > 0 {
			where.WriteString(" AND ")
		} else {
			where.WriteString(" WHERE ")
		}
		where.WriteString("EXISTS (SELECT 1 FROM node_labels l WHERE l.node_id = nodes.id AND l.key = ? AND l.value = ?)")
		args = append(args, k, sel[k])
	}
	return tx.queryNodes(ctx, "listing nodes by label",
		"SELECT "+nodeColumns+" FROM nodes"+where.String()+" ORDER BY id", args...)
}

// nodeLabels returns the labels of node id; nil when it has none.
func (tx *Tx) nodeLabels(ctx context.Context, id int64) (labels.Set, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT key, value FROM node_labels WHERE node_id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("reading labels: %w", err)
	}
	defer rows.Close()
	var set labels.Set
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("reading labels: %w", err)
		}
		if set == nil {
			set = labels.Set{}
		}
		set[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading labels: %w", err)
	}
	return set, nil
}

// labelBatch bounds the node ids of one query of loadNodeLabels, well
// under SQLite's limit of bound parameters.
const labelBatch = 500

// loadNodeLabels fills the Labels of nodes, one query per labelBatch
// nodes.
func (tx *Tx) loadNodeLabels(ctx context.Context, nodes []Node) error {
	byID := make(map[int64]*Node, len(nodes))
	for i := range nodes {
		byID[nodes[i].ID] = &nodes[i]
	}
	for batch := range slices.Chunk(nodes, labelBatch) {
		args := make([]any, len(batch))
		for i, n := range batch {
			args[i] = n.ID
		}
		q := "SELECT node_id, key, value FROM node_labels WHERE node_id IN (?" +
			strings.Repeat(", ?", len(batch)-1) + ")"
		if err := tx.scanLabelRows(ctx, byID, q, args); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) scanLabelRows(ctx context.Context, byID map[int64]*Node, q string, args []any) error {
	rows, err := tx.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("reading labels: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   int64
			k, v string
		)
		if err := rows.Scan(&id, &k, &v); err != nil {
			return fmt.Errorf("reading labels: %w", err)
		}
		n := byID[id]
		if n.Labels == nil {
			n.Labels = labels.Set{}
		}
		n.Labels[k] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading labels: %w", err)
	}
	return nil
}

// writeNodeLabels replaces the labels of node id with set, which
// normalizeNode has checked.
func (tx *Tx) writeNodeLabels(ctx context.Context, id int64, set labels.Set) error {
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM node_labels WHERE node_id = ?", id); err != nil {
		return fmt.Errorf("writing labels: %w", err)
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if _, err := tx.tx.ExecContext(ctx, "INSERT INTO node_labels (node_id, key, value) VALUES (?, ?, ?)", id, k, set[k]); err != nil {
			return fmt.Errorf("writing label %q: %w", k, err)
		}
	}
	return nil
}
