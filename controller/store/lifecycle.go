package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Restriction is why the controller itself keeps a peer off its node,
// apart from Peer.Enabled (the operator's switch).
type Restriction string

const (
	RestrictNone      Restriction = ""           // the controller does not
	RestrictExpired   Restriction = "expired"    // ExpiresAt has passed
	RestrictOverLimit Restriction = "over_limit" // Usage reached DataLimit
)

func (r Restriction) valid() bool {
	return r == RestrictNone || r == RestrictExpired || r == RestrictOverLimit
}

// LimitAction is what a peer reaching its data limit does.
type LimitAction string

const (
	LimitRestrict LimitAction = "restrict" // take it off its node, keep it (the default)
	LimitDelete   LimitAction = "delete"   // delete it
)

func (a LimitAction) valid() bool { return a == LimitRestrict || a == LimitDelete }

// PeerStatus says whether a peer is on its node, and if not, why.
type PeerStatus string

const (
	PeerActive     PeerStatus = "active"     // on its node (or on its way there)
	PeerRestricted PeerStatus = "restricted" // restricted by hand (Enabled false)
	PeerExpired    PeerStatus = "expired"
	PeerOverLimit  PeerStatus = "over_limit"
)

// Status is the peer's status. A peer restricted by hand says so first,
// whatever else holds it back: allowing it is the operator's first step.
func (p Peer) Status() PeerStatus {
	switch {
	case !p.Enabled:
		return PeerRestricted
	case p.Restriction == RestrictExpired:
		return PeerExpired
	case p.Restriction == RestrictOverLimit:
		return PeerOverLimit
	}
	return PeerActive
}

// OnNode reports whether the peer belongs on its node: enabled by the
// operator and not restricted by the controller. The reconciler puts
// exactly these peers on the agents.
func (p Peer) OnNode() bool { return p.Enabled && p.Restriction == RestrictNone }

// Usage is what the peer received and sent since its usage was last reset,
// across every node it lived on.
func (p Peer) Usage() int64 { return max(0, p.RxTotal+p.TxTotal-p.UsageBaseline) }

// RestrictionChange is a peer whose Restriction does not match its expiry
// and data limit any more (see DueRestrictions).
type RestrictionChange struct {
	PeerID, NodeID int64
	From, To       Restriction
	LimitAction    LimitAction
	ExpiresAt      time.Time // zero: never
	DataLimit      int64     // 0: none
	Usage          int64
}

// dueRestriction is the one definition of the restriction a peer's expiry
// and data limit call for at ?1 (unix seconds): expired first, then over
// its limit, else none. Usage is rx_total + tx_total - usage_baseline.
const dueRestriction = `CASE
	WHEN expires_at IS NOT NULL AND expires_at <= ?1 THEN 'expired'
	WHEN data_limit_bytes > 0 AND rx_total + tx_total - usage_baseline >= data_limit_bytes THEN 'over_limit'
	ELSE '' END`

// DueRestrictions returns, in id order, the peers whose Restriction
// differs from what their expiry and data limit call for at now: those to
// restrict and those to release. nodeID and peerID, when not 0, narrow the
// search to one node or one peer. It reads only; SetPeerRestriction
// applies a change.
func (tx *Tx) DueRestrictions(ctx context.Context, now time.Time, nodeID, peerID int64) ([]RestrictionChange, error) {
	// The narrowing is written only when asked for: "(?2 = 0 OR node_id =
	// ?2)" keeps SQLite from using the primary key or the node index, and
	// this runs inside every peer creation and every poll.
	args := []any{now.Unix()}
	var where []string
	if nodeID != 0 {
		args = append(args, nodeID)
		where = append(where, fmt.Sprintf("node_id = ?%d", len(args)))
	}
	if peerID != 0 {
		args = append(args, peerID)
		where = append(where, fmt.Sprintf("id = ?%d", len(args)))
	}
	filter := ""
	if len(where) > 0 {
		filter = "WHERE " + strings.Join(where, " AND ")
	}
	rows, err := tx.tx.QueryContext(ctx, `SELECT id, node_id, restriction, due, limit_action, expires_at, data_limit_bytes,
		rx_total + tx_total - usage_baseline
		FROM (SELECT *, `+dueRestriction+` AS due FROM peers `+filter+`) AS p
		WHERE due <> restriction`, args...)
	if err != nil {
		return nil, fmt.Errorf("finding due restrictions: %w", err)
	}
	defer rows.Close()
	var out []RestrictionChange
	for rows.Next() {
		var (
			c       RestrictionChange
			expires sql.NullInt64
		)
		if err := rows.Scan(&c.PeerID, &c.NodeID, &c.From, &c.To, &c.LimitAction, &expires, &c.DataLimit, &c.Usage); err != nil {
			return nil, fmt.Errorf("finding due restrictions: %w", err)
		}
		c.ExpiresAt = fromNullTime(expires)
		c.Usage = max(0, c.Usage)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding due restrictions: %w", err)
	}
	// Sorted here, not by ORDER BY: the statement's sorter cost SQLite
	// more than the few rows it orders (a poll of a quiet node found none
	// in 60-140 us with it, 13 us without).
	slices.SortFunc(out, func(a, b RestrictionChange) int { return cmp.Compare(a.PeerID, b.PeerID) })
	return out, nil
}

// SetPeerRestriction records why the controller keeps a peer off its node
// (RestrictNone: it does not any more). When that moves the peer on or off
// its node (an enabled peer), the peer goes back to SyncPending and the
// node's desired generation is bumped, as SetPeerEnabled does. Setting the
// current value changes nothing.
func (tx *Tx) SetPeerRestriction(ctx context.Context, id int64, r Restriction) error {
	if !r.valid() {
		return fmt.Errorf("setting peer %d restriction: %w", id, invalidf("restriction %q", r))
	}
	p, err := tx.GetPeer(ctx, id)
	if err != nil {
		return fmt.Errorf("setting peer restriction: %w", err)
	}
	if p.Restriction == r {
		return nil
	}
	before := p.OnNode()
	p.Restriction = r
	if p.OnNode() == before {
		_, err = tx.tx.ExecContext(ctx, "UPDATE peers SET restriction = ? WHERE id = ?", string(r), id)
		if err != nil {
			return fmt.Errorf("setting peer %d restriction: %w", id, err)
		}
		return nil
	}
	_, err = tx.tx.ExecContext(ctx, `UPDATE peers SET restriction = ?, sync_state = 'pending', sync_error = '', updated_at = ?
		WHERE id = ?`, string(r), tx.now.Unix(), id)
	if err != nil {
		return fmt.Errorf("setting peer %d restriction: %w", id, err)
	}
	if _, err := tx.BumpGeneration(ctx, p.NodeID); err != nil {
		return fmt.Errorf("setting peer %d restriction: %w", id, err)
	}
	return nil
}

// ResetPeerUsage starts counting the peer's usage again from now: its
// Usage becomes 0. It does not lift a restriction by itself (see
// DueRestrictions).
func (tx *Tx) ResetPeerUsage(ctx context.Context, id int64) error {
	res, err := tx.tx.ExecContext(ctx, "UPDATE peers SET usage_baseline = rx_total + tx_total WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("resetting peer %d usage: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("peer %d: %w", id, ErrPeerNotFound))
}

// ForgetPeerCounters records that the peer's node no longer has it (its
// dump does not show it): the last observed counters become 0, so that
// when the peer comes back, with counters that start again from 0, all
// they count is added to the totals. The totals and the handshake stay.
func (tx *Tx) ForgetPeerCounters(ctx context.Context, id int64) error {
	res, err := tx.tx.ExecContext(ctx, "UPDATE peers SET rx_bytes = 0, tx_bytes = 0 WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("forgetting peer %d counters: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("peer %d: %w", id, ErrPeerNotFound))
}
