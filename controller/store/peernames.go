package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
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

// ErrPeerNameTaken reports a peer name already on the node, letter case
// aside (the unique index peers_node_name, migration 0021). It wraps
// ErrConflict.
var ErrPeerNameTaken = fmt.Errorf("peer name %w", ErrConflict)

// PeerNamed returns the peer of node nodeID called name, letter case
// aside (ASCII letters on SQLite, every letter on PostgreSQL, as lower()
// folds them), or an error wrapping ErrPeerNotFound.
func (tx *Tx) PeerNamed(ctx context.Context, nodeID int64, name string) (Peer, error) {
	var id int64
	err := tx.tx.QueryRowContext(ctx, "SELECT id FROM peers WHERE node_id = ? AND lower(name) = lower(?)", nodeID, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Peer{}, fmt.Errorf("peer %q on node %d: %w", name, nodeID, ErrPeerNotFound)
	}
	if err != nil {
		return Peer{}, fmt.Errorf("looking up peer %q on node %d: %w", name, nodeID, err)
	}
	return tx.GetPeer(ctx, id)
}

// isPeerNameClash reports whether err is a violation of the unique index
// of peer names per node.
func isPeerNameClash(err error) bool {
	const index = "peers_node_name"
	var se sqlite3.Error
	var pe *pgconn.PgError
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique && strings.Contains(se.Error(), index) ||
		errors.As(err, &pe) && pe.Code == pgUniqueViolation && pe.ConstraintName == index
}
