package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/store"
)

// maxUsernameLen bounds a username, in characters.
const maxUsernameLen = 64

var (
	// ErrLastAdmin: a change that would leave no admin (deleting the last
	// one, or giving it another role).
	ErrLastAdmin = fault.New(fault.ECONFLICT, "that would leave no admin; make another user admin first")
	// ErrWrongPassword: a password change whose current password is
	// wrong.
	ErrWrongPassword = fault.New(fault.EINVALID, "the current password is wrong")
)

// checkUsername refuses names that are empty, too long, or hold white
// space or control characters (a username is typed at a login prompt and
// shown in the audit log).
func checkUsername(name string) error {
	if name == "" || utf8.RuneCountInString(name) > maxUsernameLen {
		return fmt.Errorf("%w: username must be 1 to %d characters", ErrInvalid, maxUsernameLen)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%w: username must be printable characters without spaces", ErrInvalid)
		}
	}
	return nil
}

// CreateUser adds a user with password (which must pass
// CheckPasswordStrength) and role, and records "user.create" in the
// audit log under actor. A username taken in any letter case gives
// store.ErrConflict.
func (a *Authenticator) CreateUser(ctx context.Context, actor, username, password string, role Role) (store.User, error) {
	username = strings.TrimSpace(username)
	if err := checkUsername(username); err != nil {
		return store.User{}, err
	}
	if !role.Valid() {
		return store.User{}, fmt.Errorf("%w: role must be admin, operator or viewer, not %q", ErrInvalid, role)
	}
	if err := CheckPasswordStrength(password); err != nil {
		return store.User{}, err
	}
	hash, err := a.hash(ctx, password)
	if err != nil {
		return store.User{}, err
	}
	var u store.User
	err = a.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = tx.CreateUserWithRole(ctx, username, hash, string(role)); err != nil {
			return err
		}
		return appendAudit(ctx, tx, actor, "user.create", u.ID, map[string]string{"username": u.Username, "role": u.Role})
	})
	if err != nil {
		return store.User{}, fmt.Errorf("creating user: %w", err)
	}
	a.log.Info("user created", "actor", actor, "username", u.Username, "role", u.Role)
	u.PasswordHash = ""
	return u, nil
}

// ListUsers returns every user, without password hashes.
func (a *Authenticator) ListUsers(ctx context.Context) ([]store.User, error) {
	users, err := a.store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	for i := range users {
		users[i].PasswordHash = ""
	}
	return users, nil
}

// GetUser returns the user with the given id without its password hash,
// or store.ErrUserNotFound.
func (a *Authenticator) GetUser(ctx context.Context, id int64) (store.User, error) {
	u, err := a.store.GetUser(ctx, id)
	u.PasswordHash = ""
	return u, err
}

// SetRole gives user id the role role and records "user.role" in the
// audit log. The user's sessions keep going with the new role at once;
// their API tokens above it are lowered to it. Taking the role admin from
// the last admin gives ErrLastAdmin.
func (a *Authenticator) SetRole(ctx context.Context, actor string, id int64, role Role) (store.User, error) {
	if !role.Valid() {
		return store.User{}, fmt.Errorf("%w: role must be admin, operator or viewer, not %q", ErrInvalid, role)
	}
	var u store.User
	err := a.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = tx.GetUser(ctx, id); err != nil {
			return err
		}
		from := u.Role
		if from == string(role) {
			return nil
		}
		if err := tx.SetUserRole(ctx, id, string(role), role.above()); err != nil {
			return err
		}
		if err := requireAnAdmin(ctx, tx); err != nil {
			return err
		}
		u.Role = string(role)
		return appendAudit(ctx, tx, actor, "user.role", id, map[string]string{"username": u.Username, "role": u.Role, "from": from})
	})
	if err != nil {
		return store.User{}, fmt.Errorf("setting the role of user %d: %w", id, err)
	}
	a.log.Info("user role set", "actor", actor, "username", u.Username, "role", u.Role)
	u.PasswordHash = ""
	return u, nil
}

// DeleteUser deletes user id, ends their sessions, revokes the API tokens
// they made and records "user.delete" in the audit log. Deleting the last
// admin gives ErrLastAdmin.
func (a *Authenticator) DeleteUser(ctx context.Context, actor string, id int64) error {
	var name string
	err := a.store.InTx(ctx, func(tx *store.Tx) error {
		u, err := tx.GetUser(ctx, id)
		if err != nil {
			return err
		}
		name = u.Username
		if err := tx.DeleteUser(ctx, id); err != nil {
			return err
		}
		if err := requireAnAdmin(ctx, tx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, actor, "user.delete", id, map[string]string{"username": u.Username})
	})
	if err != nil {
		return fmt.Errorf("deleting user %d: %w", id, err)
	}
	a.log.Info("user deleted", "actor", actor, "username", name)
	return nil
}

// requireAnAdmin gives ErrLastAdmin when tx leaves no admin; the caller
// returns it, which rolls tx back.
func requireAnAdmin(ctx context.Context, tx *store.Tx) error {
	n, err := tx.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLastAdmin
	}
	return nil
}

// SetPassword sets user id's password (an admin's reset, or the command
// line), ends all of that user's sessions and records "user.password" in
// the audit log (never the password).
func (a *Authenticator) SetPassword(ctx context.Context, actor string, id int64, password string) error {
	return a.setPassword(ctx, actor, id, password, store.TokenHash{})
}

func (a *Authenticator) setPassword(ctx context.Context, actor string, id int64, password string, keep store.TokenHash) error {
	if err := CheckPasswordStrength(password); err != nil {
		return err
	}
	hash, err := a.hash(ctx, password)
	if err != nil {
		return err
	}
	var name string
	err = a.store.InTx(ctx, func(tx *store.Tx) error {
		u, err := tx.GetUser(ctx, id)
		if err != nil {
			return err
		}
		name = u.Username
		if err := tx.SetPasswordHashKeeping(ctx, id, hash, keep); err != nil {
			return err
		}
		return appendAudit(ctx, tx, actor, "user.password", id, map[string]string{"username": u.Username})
	})
	if err != nil {
		return fmt.Errorf("setting the password of user %d: %w", id, err)
	}
	a.log.Info("user password set", "actor", actor, "username", name)
	return nil
}

// ChangeOwnPassword changes the password of the signed-in user p, who
// must give their current password, and ends every other session of
// theirs (the one p signed in with goes on). A wrong current password
// gives ErrWrongPassword and counts, like a failed login, against the
// username and remoteAddr: too many give a *RateLimitError. An API token
// may not change a password (ErrForbidden).
func (a *Authenticator) ChangeOwnPassword(ctx context.Context, p Principal, current, password, remoteAddr string) error {
	if p.Kind != KindUser || p.UserID == 0 {
		return fmt.Errorf("%w: only a signed-in user changes their password, not an API token", ErrForbidden)
	}
	if err := CheckPasswordStrength(password); err != nil {
		return err
	}
	u, err := a.store.GetUser(ctx, p.UserID)
	if err != nil {
		return fmt.Errorf("changing password: %w", err)
	}
	if err := a.verifyPassword(ctx, u, current, remoteAddr); err != nil {
		if errors.Is(err, ErrBadCredentials) {
			return ErrWrongPassword
		}
		return err
	}
	return a.setPassword(ctx, p.Actor(), p.UserID, password, p.session)
}

// verifyPassword checks password against u's hash under the login rate
// limits of u's name and remoteAddr: ErrBadCredentials when wrong (and
// counted), a *RateLimitError when limited.
func (a *Authenticator) verifyPassword(ctx context.Context, u store.User, password, remoteAddr string) error {
	now := a.now()
	key := keyFor(u.Username, remoteAddr)
	if retry, ok := a.limiter.begin(key, now); !ok {
		return &RateLimitError{RetryAfter: retry}
	}
	ok, err := a.check(ctx, password, u.PasswordHash)
	if err != nil {
		a.limiter.cancel(key, now)
		return err
	}
	if !ok {
		a.log.Warn("password check failed", "username", u.Username, "remote", remoteHost(remoteAddr))
		return ErrBadCredentials
	}
	a.limiter.succeeded(key)
	return nil
}

// hash hashes a password in a hashing slot (see hashSlots).
func (a *Authenticator) hash(ctx context.Context, password string) (string, error) {
	release, err := a.hashes.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(password)
}
