package store

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// PeerNamesWithPrefix returns the names of every peer, on any node, that
// start with prefix (letter case included), in no particular order; every
// name for an empty prefix.
func (tx *Tx) PeerNamesWithPrefix(ctx context.Context, prefix string) ([]string, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT name FROM peers WHERE substr(name, 1, ?) = ?",
		utf8.RuneCountInString(prefix), prefix)
	if err != nil {
		return nil, fmt.Errorf("listing peer names: %w", err)
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("listing peer names: %w", err)
		}
		names = append(names, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing peer names: %w", err)
	}
	return names, nil
}
