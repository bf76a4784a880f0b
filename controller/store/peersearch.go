package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wgfleet/wgfleet/controller/labels"
)

// PeerQuery narrows and pages SearchPeers. Its zero value, with a Limit,
// matches every peer.
type PeerQuery struct {
	// Text, when not empty, is a case-insensitive substring of the peer's
	// name, IPv4 or IPv6 address or public key (base64).
	Text string
	// NodeID, when not 0, is the one node whose peers match.
	NodeID int64
	// Status, when not empty, is the one status (Peer.Status) that matches.
	Status PeerStatus
	// Labels, when not empty, are labels the peer's node carries, every one
	// with the same value.
	Labels labels.Set
	// AfterID is the keyset cursor: only peers with a larger id match.
	AfterID int64
	// Limit is the most peers one call returns; it must be positive.
	Limit int
}

// Valid reports whether s is one of the statuses Peer.Status gives.
func (s PeerStatus) Valid() bool {
	switch s {
	case PeerActive, PeerRestricted, PeerExpired, PeerOverLimit:
		return true
	}
	return false
}

// peerStatusSQL is Peer.Status in SQL. Migration 0017 indexes this very
// expression (peers_status), so that a search by status reads the index:
// change both together or not at all (TestSearchPeersUsesIndexes).
const peerStatusSQL = `(CASE WHEN enabled = 0 THEN 'restricted' WHEN restriction = '' THEN 'active' ELSE restriction END)`

// likeEscape makes s a LIKE pattern matching it as a substring, with \ as
// the escape character.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// SearchPeers returns the peers matching q in id order, at most q.Limit,
// and whether more match after the last one returned. A bad Limit, Status
// or label selector is ErrInvalid.
func (tx *Tx) SearchPeers(ctx context.Context, q PeerQuery) ([]Peer, bool, error) {
	if q.Limit <= 0 {
		return nil, false, fmt.Errorf("searching peers: %w", invalidf("limit %d, must be positive", q.Limit))
	}
	if q.Status != "" && !q.Status.Valid() {
		return nil, false, fmt.Errorf("searching peers: %w", invalidf("status %q", q.Status))
	}
	if err := labels.Check(q.Labels); err != nil {
		return nil, false, fmt.Errorf("searching peers: %w", invalidf("selector %v", err))
	}
	query, args := searchSQL(q)
	rows, err := tx.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("searching peers: %w", err)
	}
	defer rows.Close()
	peers := []Peer{}
	for rows.Next() {
		p, err := tx.scanPeer(rows)
		if err != nil {
			return nil, false, fmt.Errorf("searching peers: %w", err)
		}
		peers = append(peers, p)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("searching peers: %w", err)
	}
	if len(peers) > q.Limit {
		return peers[:q.Limit], true, nil
	}
	return peers, false, nil
}

// searchSQL is the query of SearchPeers for q (checked), with its
// arguments: one more than q.Limit, to tell whether more match.
func searchSQL(q PeerQuery) (string, []any) {
	where := []string{"id > ?"}
	args := []any{q.AfterID}
	if q.Text != "" {
		where = append(where, `(name LIKE ? ESCAPE '\' OR address4 LIKE ? ESCAPE '\' OR coalesce(address6, '') LIKE ? ESCAPE '\' OR public_key LIKE ? ESCAPE '\')`)
		pat := likeEscape(q.Text)
		args = append(args, pat, pat, pat, pat)
	}
	if q.NodeID != 0 {
		where = append(where, "node_id = ?")
		args = append(args, q.NodeID)
	}
	if q.Status != "" {
		where = append(where, peerStatusSQL+" = ?")
		args = append(args, string(q.Status))
	}
	for _, k := range slices.Sorted(maps.Keys(q.Labels)) {
		where = append(where, "EXISTS (SELECT 1 FROM node_labels l WHERE l.node_id = peers.node_id AND l.key = ? AND l.value = ?)")
		args = append(args, k, q.Labels[k])
	}
	args = append(args, q.Limit+1)
	return "SELECT " + peerColumns + " FROM peers WHERE " + strings.Join(where, " AND ") + " ORDER BY id LIMIT ?", args
}
