package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a signed-in browser session. The cookie carries a random
// token; the store keeps only its hash.
type Session struct {
	TokenHash TokenHash
	UserID    int64
	// CSRFToken is the session's anti-CSRF token, stored as is: it is
	// worthless without the session cookie, and the UI must be able to
	// fetch it again after a reload.
	CSRFToken string
	CreatedAt time.Time // set by CreateSession
	ExpiresAt time.Time
}

// CreateSession stores sess; CreatedAt is set to now. An unknown user gives
// ErrUserNotFound, a reused token hash ErrConflict.
func (tx *Tx) CreateSession(ctx context.Context, sess Session) (Session, error) {
	if sess.CSRFToken == "" || sess.ExpiresAt.IsZero() || sess.TokenHash == (TokenHash{}) {
		return Session{}, fmt.Errorf("creating session: %w", invalidf("token hash, CSRF token and expiry must be set"))
	}
	sess.CreatedAt = tx.now
	sess.ExpiresAt = unixTime(sess.ExpiresAt.Unix())
	_, err := tx.tx.ExecContext(ctx,
		"INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		sess.TokenHash[:], sess.UserID, sess.CSRFToken, sess.CreatedAt.Unix(), sess.ExpiresAt.Unix())
	switch {
	case isForeignKey(err):
		return Session{}, fmt.Errorf("creating session: user %d: %w", sess.UserID, ErrUserNotFound)
	case isUnique(err):
		return Session{}, fmt.Errorf("creating session: %w", ErrConflict)
	case err != nil:
		return Session{}, fmt.Errorf("creating session: %w", err)
	}
	return sess, nil
}

// GetSession returns the unexpired session with the given token hash, or
// ErrSessionNotFound (also for an expired one).
func (tx *Tx) GetSession(ctx context.Context, hash TokenHash) (Session, error) {
	var (
		s                  Session
		raw                []byte
		created, expiresAt int64
	)
	err := tx.tx.QueryRowContext(ctx,
		"SELECT token_hash, user_id, csrf_token, created_at, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?",
		hash[:], tx.now.Unix()).Scan(&raw, &s.UserID, &s.CSRFToken, &created, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrSessionNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("reading session: %w", err)
	}
	copy(s.TokenHash[:], raw)
	s.CreatedAt = unixTime(created)
	s.ExpiresAt = unixTime(expiresAt)
	return s, nil
}

// DeleteSession ends a session. Ending one that does not exist is not an
// error.
func (tx *Tx) DeleteSession(ctx context.Context, hash TokenHash) error {
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM sessions WHERE token_hash = ?", hash[:]); err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes every session expired by now and returns
// how many it removed.
func (tx *Tx) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at <= ?", tx.now.Unix())
	if err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	return res.RowsAffected()
}

// DeleteUserSessions ends every session of a user but the one with the
// token hash keep (zero: all of them) and returns how many it ended.
func (tx *Tx) DeleteUserSessions(ctx context.Context, userID int64, keep TokenHash) (int64, error) {
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?", userID, keep[:])
	if err != nil {
		return 0, fmt.Errorf("ending the sessions of user %d: %w", userID, err)
	}
	return res.RowsAffected()
}
