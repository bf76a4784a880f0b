package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TokenHash is the SHA-256 of a session or API token. Tokens themselves
// are never stored.
type TokenHash [sha256.Size]byte

// HashToken returns the hash under which a token is stored and looked up.
// Tokens are long random strings, so a plain SHA-256 is enough.
func HashToken(token string) TokenHash { return sha256.Sum256([]byte(token)) }

// APIToken is a bearer token for the REST API.
type APIToken struct {
	ID         int64
	Name       string
	Hash       TokenHash
	Prefix     string // the token's first characters, to recognise it in a list
	CreatedAt  time.Time
	LastUsedAt time.Time // zero if never used; updated at most once a minute
	RevokedAt  time.Time // zero while the token is valid
	ExpiresAt  time.Time // zero: never expires
	// Role is what the token may do ("admin", "operator", "viewer").
	Role string
	// UserID is the user who made the token; 0: the command line, or a
	// token made before roles existed.
	UserID int64
}

// touchGranularity limits how often a token's last use is written.
const touchGranularity = time.Minute

// CreateAPIToken stores a new admin token made by nobody in particular:
// CreateAPITokenWith of those fields.
func (tx *Tx) CreateAPIToken(ctx context.Context, name string, hash TokenHash, prefix string, expiresAt time.Time) (APIToken, error) {
	return tx.CreateAPITokenWith(ctx, APIToken{Name: name, Hash: hash, Prefix: prefix, ExpiresAt: expiresAt, Role: "admin"})
}

// CreateAPITokenWith stores t, a new token, by its hash: its Name, Hash,
// Prefix, ExpiresAt (when it stops authenticating, stored in whole
// seconds; zero means never), Role and UserID (0: none). CreatedAt is set
// to now. A hash already stored gives ErrConflict, an unknown role
// ErrInvalid.
func (tx *Tx) CreateAPITokenWith(ctx context.Context, t APIToken) (APIToken, error) {
	t.Name = strings.TrimSpace(t.Name)
	if t.Name == "" || t.Hash == (TokenHash{}) {
		return APIToken{}, fmt.Errorf("creating api token: %w", invalidf("name and hash must be set"))
	}
	if err := checkRole(t.Role); err != nil {
		return APIToken{}, fmt.Errorf("creating api token %q: %w", t.Name, err)
	}
	userID := sql.NullInt64{Int64: t.UserID, Valid: t.UserID != 0}
	err := tx.tx.QueryRowContext(ctx,
		"INSERT INTO api_tokens (name, token_hash, prefix, created_at, expires_at, role, user_id) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
		t.Name, t.Hash[:], t.Prefix, tx.now.Unix(), nullTime(t.ExpiresAt), t.Role, userID).Scan(&t.ID)
	if isUnique(err) {
		return APIToken{}, fmt.Errorf("creating api token %q: %w", t.Name, ErrConflict)
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("creating api token %q: %w", t.Name, err)
	}
	if !t.ExpiresAt.IsZero() {
		t.ExpiresAt = unixTime(t.ExpiresAt.Unix())
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = tx.now, time.Time{}, time.Time{}
	return t, nil
}

const apiTokenColumns = "id, name, token_hash, prefix, created_at, last_used_at, revoked_at, expires_at, role, user_id"

func scanAPIToken(sc scanner) (APIToken, error) {
	var (
		t             APIToken
		raw           []byte
		created       int64
		used, revoked sql.NullInt64
		expires       sql.NullInt64
		userID        sql.NullInt64
	)
	if err := sc.Scan(&t.ID, &t.Name, &raw, &t.Prefix, &created, &used, &revoked, &expires, &t.Role, &userID); err != nil {
		return APIToken{}, err
	}
	t.UserID = userID.Int64
	copy(t.Hash[:], raw)
	t.CreatedAt = unixTime(created)
	t.LastUsedAt = fromNullTime(used)
	t.RevokedAt = fromNullTime(revoked)
	t.ExpiresAt = fromNullTime(expires)
	return t, nil
}

// ListAPITokens returns every token, revoked ones included, in id order.
func (tx *Tx) ListAPITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+apiTokenColumns+" FROM api_tokens ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("listing api tokens: %w", err)
	}
	defer rows.Close()
	out := []APIToken{}
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("listing api tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken revokes a token. Revoking a revoked token keeps its first
// revocation time; an unknown id gives ErrAPITokenNotFound.
func (tx *Tx) RevokeAPIToken(ctx context.Context, id int64) error {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", tx.now.Unix(), id)
	if err != nil {
		return fmt.Errorf("revoking api token %d: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("api token %d: %w", id, ErrAPITokenNotFound))
}

// LookupAPIToken returns the unrevoked token with the given hash, or
// ErrAPITokenNotFound (also for a revoked one). An expired token is
// returned: the caller decides against its clock.
func (tx *Tx) LookupAPIToken(ctx context.Context, hash TokenHash) (APIToken, error) {
	t, err := scanAPIToken(tx.tx.QueryRowContext(ctx,
		"SELECT "+apiTokenColumns+" FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return APIToken{}, ErrAPITokenNotFound
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("looking up api token: %w", err)
	}
	return t, nil
}

// TouchAPIToken records that a token was used now. To spare a write per
// request it only writes when the stored time is a minute old or more.
func (tx *Tx) TouchAPIToken(ctx context.Context, id int64) error {
	now := tx.now.Unix()
	_, err := tx.tx.ExecContext(ctx,
		"UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
		now, id, now-int64(touchGranularity/time.Second))
	if err != nil {
		return fmt.Errorf("touching api token %d: %w", id, err)
	}
	return nil
}
