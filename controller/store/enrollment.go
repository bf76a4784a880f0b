package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/controller/labels"
)

// ErrEnrollmentTokenNotFound reports an unknown enrollment token id or
// hash.
var ErrEnrollmentTokenNotFound = fmt.Errorf("enrollment token %w", ErrNotFound)

// EnrollmentToken lets one agent join the fleet by itself (issue 12): it
// works once, until ExpiresAt, unless revoked. Only the hash of its secret
// is stored.
type EnrollmentToken struct {
	ID     int64
	Hash   TokenHash
	Prefix string // the token's first characters, to recognise it in a list
	// Name is the name of the node it creates; "" means the joining
	// agent's host name.
	Name string
	// Labels are the labels the node gets; nil or empty for none.
	Labels labels.Set
	// IPPool is the node's IPv4 pool; zero means one is carved from the
	// controller's supernet when the token is used.
	IPPool    netip.Prefix
	CreatedBy string // the actor that made it
	CreatedAt time.Time
	ExpiresAt time.Time // required
	UsedAt    time.Time // zero until used
	NodeID    int64     // the node its use created; 0 until used
	RevokedAt time.Time // zero unless revoked
}

// EnrollmentState is where a token stands at a given time.
type EnrollmentState string

// The states of an enrollment token, in the order State checks them.
const (
	EnrollmentUsed    EnrollmentState = "used"
	EnrollmentRevoked EnrollmentState = "revoked"
	EnrollmentExpired EnrollmentState = "expired"
	EnrollmentActive  EnrollmentState = "active"
)

// State says whether t can still be used at now, and if not why not.
func (t EnrollmentToken) State(now time.Time) EnrollmentState {
	switch {
	case !t.UsedAt.IsZero():
		return EnrollmentUsed
	case !t.RevokedAt.IsZero():
		return EnrollmentRevoked
	case !now.Before(t.ExpiresAt):
		return EnrollmentExpired
	}
	return EnrollmentActive
}

const enrollmentColumns = `id, token_hash, prefix, name, labels, ip_pool_cidr, created_by,
	created_at, expires_at, used_at, node_id, revoked_at`

func scanEnrollmentToken(sc scanner) (EnrollmentToken, error) {
	var (
		t                     EnrollmentToken
		raw                   []byte
		labelsJSON            string
		pool                  sql.NullString
		created, expires      int64
		used, revoked, nodeID sql.NullInt64
	)
	err := sc.Scan(&t.ID, &raw, &t.Prefix, &t.Name, &labelsJSON, &pool, &t.CreatedBy,
		&created, &expires, &used, &nodeID, &revoked)
	if err != nil {
		return EnrollmentToken{}, err
	}
	copy(t.Hash[:], raw)
	if err := json.Unmarshal([]byte(labelsJSON), &t.Labels); err != nil {
		return EnrollmentToken{}, fmt.Errorf("enrollment token %d: labels: %w", t.ID, err)
	}
	if len(t.Labels) == 0 {
		t.Labels = nil
	}
	if t.IPPool, err = parseNullPrefix(pool); err != nil {
		return EnrollmentToken{}, fmt.Errorf("enrollment token %d: ip_pool_cidr: %w", t.ID, err)
	}
	t.CreatedAt = unixTime(created)
	t.ExpiresAt = unixTime(expires)
	t.UsedAt = fromNullTime(used)
	t.RevokedAt = fromNullTime(revoked)
	t.NodeID = nodeID.Int64
	return t, nil
}

// CreateEnrollmentToken stores t by its hash; CreatedAt is now, ExpiresAt
// is stored in whole seconds, the use and revocation fields are ignored.
// Hash, CreatedBy and ExpiresAt are required (ErrInvalid); a hash already
// stored gives ErrConflict.
func (tx *Tx) CreateEnrollmentToken(ctx context.Context, t EnrollmentToken) (EnrollmentToken, error) {
	t.Name = strings.TrimSpace(t.Name)
	if t.Hash == (TokenHash{}) || t.CreatedBy == "" || t.ExpiresAt.IsZero() {
		return EnrollmentToken{}, fmt.Errorf("creating enrollment token: %w", invalidf("hash, creator and expiry must be set"))
	}
	labelsJSON := []byte("{}")
	if len(t.Labels) > 0 {
		var err error
		if labelsJSON, err = json.Marshal(t.Labels); err != nil {
			return EnrollmentToken{}, fmt.Errorf("creating enrollment token: labels: %w", err)
		}
	}
	err := tx.tx.QueryRowContext(ctx, `INSERT INTO enrollment_tokens
		(token_hash, prefix, name, labels, ip_pool_cidr, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		t.Hash[:], t.Prefix, t.Name, string(labelsJSON), nullPrefix(t.IPPool), t.CreatedBy, tx.now.Unix(), t.ExpiresAt.Unix()).Scan(&t.ID)
	if isUnique(err) {
		return EnrollmentToken{}, fmt.Errorf("creating enrollment token: %w", ErrConflict)
	}
	if err != nil {
		return EnrollmentToken{}, fmt.Errorf("creating enrollment token: %w", err)
	}
	return tx.GetEnrollmentToken(ctx, t.ID)
}

// GetEnrollmentToken returns the token with the given id, or
// ErrEnrollmentTokenNotFound.
func (tx *Tx) GetEnrollmentToken(ctx context.Context, id int64) (EnrollmentToken, error) {
	t, err := scanEnrollmentToken(tx.tx.QueryRowContext(ctx,
		"SELECT "+enrollmentColumns+" FROM enrollment_tokens WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return EnrollmentToken{}, fmt.Errorf("enrollment token %d: %w", id, ErrEnrollmentTokenNotFound)
	}
	if err != nil {
		return EnrollmentToken{}, fmt.Errorf("reading enrollment token %d: %w", id, err)
	}
	return t, nil
}

// LookupEnrollmentToken returns the token with the given hash whatever
// its state (see EnrollmentToken.State), or ErrEnrollmentTokenNotFound.
func (tx *Tx) LookupEnrollmentToken(ctx context.Context, hash TokenHash) (EnrollmentToken, error) {
	t, err := scanEnrollmentToken(tx.tx.QueryRowContext(ctx,
		"SELECT "+enrollmentColumns+" FROM enrollment_tokens WHERE token_hash = ?", hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return EnrollmentToken{}, ErrEnrollmentTokenNotFound
	}
	if err != nil {
		return EnrollmentToken{}, fmt.Errorf("looking up enrollment token: %w", err)
	}
	return t, nil
}

// ListEnrollmentTokens returns every enrollment token, used, revoked and
// expired ones included, in id order.
func (tx *Tx) ListEnrollmentTokens(ctx context.Context) ([]EnrollmentToken, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+enrollmentColumns+" FROM enrollment_tokens ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("listing enrollment tokens: %w", err)
	}
	defer rows.Close()
	out := []EnrollmentToken{}
	for rows.Next() {
		t, err := scanEnrollmentToken(rows)
		if err != nil {
			return nil, fmt.Errorf("listing enrollment tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing enrollment tokens: %w", err)
	}
	return out, nil
}

// RevokeEnrollmentToken revokes a token. Revoking a revoked token keeps
// its first revocation time; revoking a used one records the revocation
// and changes nothing else. An unknown id gives ErrEnrollmentTokenNotFound.
func (tx *Tx) RevokeEnrollmentToken(ctx context.Context, id int64) error {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE enrollment_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", tx.now.Unix(), id)
	if err != nil {
		return fmt.Errorf("revoking enrollment token %d: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("enrollment token %d: %w", id, ErrEnrollmentTokenNotFound))
}

// UseEnrollmentToken records that token id created node nodeID, now. It
// succeeds only for a token neither used nor revoked nor expired; otherwise
// it changes nothing and the error wraps ErrConflict (or
// ErrEnrollmentTokenNotFound for an unknown id). Callers check the state
// first for a better message; this is what holds when they race.
func (tx *Tx) UseEnrollmentToken(ctx context.Context, id, nodeID int64) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE enrollment_tokens SET used_at = ?, node_id = ?
		WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
		tx.now.Unix(), nodeID, id, tx.now.Unix())
	if err != nil {
		return fmt.Errorf("using enrollment token %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("using enrollment token %d: %w", id, err)
	} else if n == 0 {
		if _, err := tx.GetEnrollmentToken(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("using enrollment token %d: it is used, revoked or expired: %w", id, ErrConflict)
	}
	return nil
}

// ListEnrollmentTokens runs Tx.ListEnrollmentTokens in a read-only
// transaction (View).
func (s *Store) ListEnrollmentTokens(ctx context.Context) ([]EnrollmentToken, error) {
	return view(ctx, s, func(tx *Tx) ([]EnrollmentToken, error) { return tx.ListEnrollmentTokens(ctx) })
}

// SetNodeServerKey records the public key of the node's interface as its
// agent reported it outside a health document (at enrollment); the next
// health document replaces it as usual.
func (tx *Tx) SetNodeServerKey(ctx context.Context, id int64, key wgtypes.Key) error {
	res, err := tx.tx.ExecContext(ctx, "UPDATE nodes SET server_public_key = ? WHERE id = ?", key.String(), id)
	if err != nil {
		return fmt.Errorf("setting the server key of node %d: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("node %d: %w", id, ErrNodeNotFound))
}
