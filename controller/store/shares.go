package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wgfleet/wgfleet/controller/fault"
)

// Share link errors.
var (
	// ErrShareNotFound: no link has that id or token.
	ErrShareNotFound = fmt.Errorf("share link %w", ErrNotFound)
	// ErrShareGone: the link exists but no longer works: it expired, was
	// revoked, or was a one-time link already used. Wrapped with which.
	ErrShareGone = fault.New(fault.EGONE, "share link no longer works")
)

// ShareState is where a share link stands at a given time.
type ShareState string

// The states of a share link; only ShareActive opens.
const (
	ShareActive  ShareState = "active"
	ShareUsed    ShareState = "used" // a one-time link, used
	ShareExpired ShareState = "expired"
	ShareRevoked ShareState = "revoked"
)

// Share is a link that hands one peer's client config out without a
// login. The token itself is never stored: Hash is its SHA-256.
type Share struct {
	ID         int64
	PeerID     int64
	Hash       TokenHash
	OneTime    bool
	CreatedBy  string // the actor who made it
	CreatedAt  time.Time
	ExpiresAt  time.Time // every link expires
	RevokedAt  time.Time // zero while not revoked
	UsedCount  int64
	LastUsedAt time.Time // zero: never used
}

// State is where the link stands at now: revoked before used before
// expired.
func (s Share) State(now time.Time) ShareState {
	switch {
	case !s.RevokedAt.IsZero():
		return ShareRevoked
	case s.OneTime && s.UsedCount > 0:
		return ShareUsed
	case !now.Before(s.ExpiresAt):
		return ShareExpired
	}
	return ShareActive
}

const shareColumns = "id, peer_id, token_hash, one_time, created_by, created_at, expires_at, revoked_at, used_count, last_used_at"

func scanShare(sc scanner) (Share, error) {
	var (
		s                 Share
		raw               []byte
		oneTime           int
		created, expires  int64
		revoked, lastUsed sql.NullInt64
	)
	if err := sc.Scan(&s.ID, &s.PeerID, &raw, &oneTime, &s.CreatedBy, &created, &expires, &revoked, &s.UsedCount, &lastUsed); err != nil {
		return Share{}, err
	}
	copy(s.Hash[:], raw)
	s.OneTime = oneTime == 1
	s.CreatedAt, s.ExpiresAt = unixTime(created), unixTime(expires)
	s.RevokedAt, s.LastUsedAt = fromNullTime(revoked), fromNullTime(lastUsed)
	return s, nil
}

// CreateShare stores a new link by its token's hash; CreatedAt is now and
// ExpiresAt is kept in whole seconds. An unknown peer gives
// ErrPeerNotFound, a hash already stored ErrConflict.
func (tx *Tx) CreateShare(ctx context.Context, s Share) (Share, error) {
	if s.Hash == (TokenHash{}) || s.CreatedBy == "" || s.ExpiresAt.IsZero() {
		return Share{}, fmt.Errorf("creating share link: %w", invalidf("hash, creator and expiry must be set"))
	}
	s.CreatedAt = tx.now
	s.ExpiresAt = unixTime(s.ExpiresAt.Unix())
	err := tx.tx.QueryRowContext(ctx,
		`INSERT INTO share_links (peer_id, token_hash, one_time, created_by, created_at, expires_at)
		 VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		s.PeerID, s.Hash[:], boolInt(s.OneTime), s.CreatedBy, s.CreatedAt.Unix(), s.ExpiresAt.Unix()).Scan(&s.ID)
	switch {
	case isForeignKey(err):
		return Share{}, fmt.Errorf("creating share link of peer %d: %w", s.PeerID, ErrPeerNotFound)
	case isUnique(err):
		return Share{}, fmt.Errorf("creating share link of peer %d: %w", s.PeerID, ErrConflict)
	case err != nil:
		return Share{}, fmt.Errorf("creating share link of peer %d: %w", s.PeerID, err)
	}
	return s, nil
}

// GetShare returns the link with id, or ErrShareNotFound.
func (tx *Tx) GetShare(ctx context.Context, id int64) (Share, error) {
	s, err := scanShare(tx.tx.QueryRowContext(ctx, "SELECT "+shareColumns+" FROM share_links WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, fmt.Errorf("share link %d: %w", id, ErrShareNotFound)
	}
	if err != nil {
		return Share{}, fmt.Errorf("reading share link %d: %w", id, err)
	}
	return s, nil
}

// LookupShare returns the link whose token has hash, whatever its state,
// or ErrShareNotFound.
func (tx *Tx) LookupShare(ctx context.Context, hash TokenHash) (Share, error) {
	s, err := scanShare(tx.tx.QueryRowContext(ctx, "SELECT "+shareColumns+" FROM share_links WHERE token_hash = ?", hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, ErrShareNotFound
	}
	if err != nil {
		return Share{}, fmt.Errorf("looking up share link: %w", err)
	}
	return s, nil
}

// ListShares returns the links of a peer, newest first, dead ones
// included. An unknown peer has none.
func (tx *Tx) ListShares(ctx context.Context, peerID int64) ([]Share, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+shareColumns+" FROM share_links WHERE peer_id = ? ORDER BY id DESC", peerID)
	if err != nil {
		return nil, fmt.Errorf("listing share links of peer %d: %w", peerID, err)
	}
	defer rows.Close()
	out := []Share{}
	for rows.Next() {
		s, err := scanShare(rows)
		if err != nil {
			return nil, fmt.Errorf("listing share links of peer %d: %w", peerID, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing share links of peer %d: %w", peerID, err)
	}
	return out, nil
}

// RevokeShare revokes a link and returns it. Revoking a revoked link keeps
// its first revocation time; an unknown id gives ErrShareNotFound.
func (tx *Tx) RevokeShare(ctx context.Context, id int64) (Share, error) {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE share_links SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", tx.now.Unix(), id)
	if err != nil {
		return Share{}, fmt.Errorf("revoking share link %d: %w", id, err)
	}
	if err := requireRow(res, fmt.Errorf("share link %d: %w", id, ErrShareNotFound)); err != nil {
		return Share{}, err
	}
	return tx.GetShare(ctx, id)
}

// UseShare records one use of the link with id, in one conditional write,
// and returns the link as used: so of two concurrent uses of a one-time
// link exactly one succeeds. A link that is not active at the
// transaction's time gives an error wrapping ErrShareGone that says why
// (ErrShareNotFound for an unknown id).
func (tx *Tx) UseShare(ctx context.Context, id int64) (Share, error) {
	now := tx.now.Unix()
	res, err := tx.tx.ExecContext(ctx,
		`UPDATE share_links SET used_count = used_count + 1, last_used_at = ?
		 WHERE id = ? AND revoked_at IS NULL AND expires_at > ? AND (one_time = 0 OR used_count = 0)`,
		now, id, now)
	if err != nil {
		return Share{}, fmt.Errorf("using share link %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Share{}, fmt.Errorf("using share link %d: %w", id, err)
	}
	s, err := tx.GetShare(ctx, id)
	if err != nil {
		return Share{}, err
	}
	if n == 0 {
		return Share{}, fmt.Errorf("%w: it is %s", ErrShareGone, s.State(tx.now))
	}
	return s, nil
}
