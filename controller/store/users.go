package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	// Role is what the user may do: "admin", "operator" or "viewer"
	// (controller/auth gives them their meaning).
	Role      string
	CreatedAt time.Time
	// TOTPEnabled is true once the user confirmed a TOTP enrolment: a
	// login then needs a code. The secret is read with GetTOTP.
	TOTPEnabled bool
}

// Roles a user or API token may have; the database refuses others.
var roles = []string{"admin", "operator", "viewer"}

// CreateUser adds an administrator: CreateUserWithRole with "admin".
func (tx *Tx) CreateUser(ctx context.Context, username, passwordHash string) (User, error) {
	return tx.CreateUserWithRole(ctx, username, passwordHash, "admin")
}

// CreateUserWithRole adds a user. A username taken in any letter case
// gives ErrConflict; an empty username or hash, or an unknown role, gives
// ErrInvalid.
func (tx *Tx) CreateUserWithRole(ctx context.Context, username, passwordHash, role string) (User, error) {
	username = strings.TrimSpace(username)
	if username == "" || passwordHash == "" {
		return User{}, fmt.Errorf("creating user: %w", invalidf("username and password hash must be set"))
	}
	if err := checkRole(role); err != nil {
		return User{}, fmt.Errorf("creating user %q: %w", username, err)
	}
	var id int64
	err := tx.tx.QueryRowContext(ctx,
		"INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?) RETURNING id",
		username, passwordHash, role, tx.now.Unix()).Scan(&id)
	if isUnique(err) {
		return User{}, fmt.Errorf("creating user %q: %w", username, ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("creating user %q: %w", username, err)
	}
	return User{ID: id, Username: username, PasswordHash: passwordHash, Role: role, CreatedAt: tx.now}, nil
}

func checkRole(role string) error {
	if !slices.Contains(roles, role) {
		return invalidf("role must be admin, operator or viewer, not %q", role)
	}
	return nil
}

const userColumns = "id, username, password_hash, role, created_at, totp_enabled"

func scanUser(sc scanner) (User, error) {
	var u User
	var created int64
	if err := sc.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Role, &created, &u.TOTPEnabled); err != nil {
		return User{}, err
	}
	u.CreatedAt = unixTime(created)
	return u, nil
}

// ListUsers returns every user in id order.
func (tx *Tx) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return out, nil
}

// CountAdmins returns how many users have the role "admin".
func (tx *Tx) CountAdmins(ctx context.Context) (int, error) {
	var n int
	if err := tx.tx.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE role = 'admin'").Scan(&n); err != nil {
		return 0, fmt.Errorf("counting admins: %w", err)
	}
	return n, nil
}

// SetUserRole changes a user's role. The user's unrevoked API tokens whose
// role is in above (the roles above the new one, as the caller ranks
// them) get the new role too, so that no token outranks its maker. An
// unknown user gives ErrUserNotFound, an unknown role ErrInvalid.
func (tx *Tx) SetUserRole(ctx context.Context, userID int64, role string, above []string) error {
	if err := checkRole(role); err != nil {
		return fmt.Errorf("setting role of user %d: %w", userID, err)
	}
	res, err := tx.tx.ExecContext(ctx, "UPDATE users SET role = ? WHERE id = ?", role, userID)
	if err != nil {
		return fmt.Errorf("setting role of user %d: %w", userID, err)
	}
	if err := requireRow(res, fmt.Errorf("user %d: %w", userID, ErrUserNotFound)); err != nil {
		return err
	}
	for _, r := range above {
		if _, err := tx.tx.ExecContext(ctx, "UPDATE api_tokens SET role = ? WHERE user_id = ? AND role = ?", role, userID, r); err != nil {
			return fmt.Errorf("lowering the api tokens of user %d: %w", userID, err)
		}
	}
	return nil
}

// DeleteUser deletes a user, their sessions and recovery codes, and
// revokes the API tokens they made. An unknown user gives
// ErrUserNotFound.
func (tx *Tx) DeleteUser(ctx context.Context, userID int64) error {
	if _, err := tx.tx.ExecContext(ctx,
		"UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ?", tx.now.Unix(), userID); err != nil {
		return fmt.Errorf("revoking the api tokens of user %d: %w", userID, err)
	}
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", userID)
	if err != nil {
		return fmt.Errorf("deleting user %d: %w", userID, err)
	}
	return requireRow(res, fmt.Errorf("user %d: %w", userID, ErrUserNotFound))
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
	return tx.SetPasswordHashKeeping(ctx, userID, passwordHash, TokenHash{})
}

// SetPasswordHashKeeping replaces a user's password hash and ends all of
// the user's sessions but the one with the token hash keep (the session
// that changed its own password); a zero keep ends them all.
func (tx *Tx) SetPasswordHashKeeping(ctx context.Context, userID int64, passwordHash string, keep TokenHash) error {
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
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?", userID, keep[:]); err != nil {
		return fmt.Errorf("ending sessions of user %d: %w", userID, err)
	}
	return nil
}
