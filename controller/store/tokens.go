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
}

// touchGranularity limits how often a token's last use is written.
const touchGranularity = time.Minute

// CreateAPIToken stores a new token by its hash; CreatedAt is set to now.
// expiresAt is when it stops authenticating, stored in whole seconds; zero
// means never. A hash already stored gives ErrConflict.
func (tx *Tx) CreateAPIToken(ctx context.Context, name string, hash TokenHash, prefix string, expiresAt time.Time) (APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" || hash == (TokenHash{}) {
		return APIToken{}, fmt.Errorf("creating api token: %w", invalidf("name and hash must be set"))
	}
	var id int64
	err := tx.tx.QueryRowContext(ctx,
		"INSERT INTO api_tokens (name, token_hash, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
		name, hash[:], prefix, tx.now.Unix(), nullTime(expiresAt)).Scan(&id)
	if isUnique(err) {
		return APIToken{}, fmt.Errorf("creating api token %q: %w", name, ErrConflict)
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("creating api token %q: %w", name, err)
	}
	if !expiresAt.IsZero() {
		expiresAt = unixTime(expiresAt.Unix())
	}
	return APIToken{ID: id, Name: name, Hash: hash, Prefix: prefix, CreatedAt: tx.now, ExpiresAt: expiresAt}, nil
}

const apiTokenColumns = "id, name, token_hash, prefix, created_at, last_used_at, revoked_at, expires_at"

func scanAPIToken(sc scanner) (APIToken, error) {
	var (
		t             APIToken
		raw           []byte
		created       int64
		used, revoked sql.NullInt64
		expires       sql.NullInt64
	)
	if err := sc.Scan(&t.ID, &t.Name, &raw, &t.Prefix, &created, &used, &revoked, &expires); err != nil {
		return APIToken{}, err
	}
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
