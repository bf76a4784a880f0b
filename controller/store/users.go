package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// User is a person who may sign in to the UI and API.
type User struct {
	ID       int64
	Username string // unique, case-insensitive
	// PasswordHash is the encoded hash (e.g. argon2id) made by the auth
	// layer; the store never sees a password.
	PasswordHash string
	CreatedAt    time.Time
}

// CreateUser adds a user. A username taken in any letter case gives
// ErrConflict; an empty username or hash gives ErrInvalid.
func (tx *Tx) CreateUser(ctx context.Context, username, passwordHash string) (User, error) {
	username = strings.TrimSpace(username)
	if username == "" || passwordHash == "" {
		return User{}, fmt.Errorf("creating user: %w", invalidf("username and password hash must be set"))
	}
	var id int64
	err := tx.tx.QueryRowContext(ctx,
		"INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?) RETURNING id",
		username, passwordHash, tx.now.Unix()).Scan(&id)
	if isUnique(err) {
		return User{}, fmt.Errorf("creating user %q: %w", username, ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("creating user %q: %w", username, err)
	}
	return User{ID: id, Username: username, PasswordHash: passwordHash, CreatedAt: tx.now}, nil
}

const userColumns = "id, username, password_hash, created_at"

func scanUser(sc scanner) (User, error) {
	var u User
	var created int64
	if err := sc.Scan(&u.ID, &u.Username, &u.PasswordHash, &created); err != nil {
		return User{}, err
	}
	u.CreatedAt = unixTime(created)
	return u, nil
}

// GetUser returns the user with the given id, or ErrUserNotFound.
func (tx *Tx) GetUser(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(tx.tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %d: %w", id, ErrUserNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("reading user %d: %w", id, err)
	}
	return u, nil
}

// GetUserByUsername returns the user with the given name, compared without
// regard to case, or ErrUserNotFound.
func (tx *Tx) GetUserByUsername(ctx context.Context, username string) (User, error) {
	u, err := scanUser(tx.tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE username = ?",
		strings.TrimSpace(username)))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", username, ErrUserNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("reading user %q: %w", username, err)
	}
	return u, nil
}

// CountUsers returns how many users exist; 0 means the first-run setup has
// not happened.
func (tx *Tx) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := tx.tx.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		return 0, fmt.Errorf("counting users: %w", err)
	}
	return n, nil
}

// SetPasswordHash replaces a user's password hash and ends all of the
// user's sessions.
func (tx *Tx) SetPasswordHash(ctx context.Context, userID int64, passwordHash string) error {
	if passwordHash == "" {
		return fmt.Errorf("setting password of user %d: %w", userID, invalidf("password hash is empty"))
	}
	res, err := tx.tx.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", passwordHash, userID)
	if err != nil {
		return fmt.Errorf("setting password of user %d: %w", userID, err)
	}
	if err := requireRow(res, fmt.Errorf("user %d: %w", userID, ErrUserNotFound)); err != nil {
		return err
	}
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ?", userID); err != nil {
		return fmt.Errorf("ending sessions of user %d: %w", userID, err)
	}
	return nil
}
