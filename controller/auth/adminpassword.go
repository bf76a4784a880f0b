package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/wgfleet/wgfleet/controller/store"
)

// ApplyAdminPassword makes adminPassword the password of AdminUsername
// when it is not already: it stores a new hash, which ends all of that
// user's sessions, and writes the audit entry "user.password" by "system"
// (the password is never in it). It returns true when it changed the
// password. An empty adminPassword, a missing AdminUsername or the same
// password change nothing; a new password that fails
// CheckPasswordStrength is an error and changes nothing.
func ApplyAdminPassword(ctx context.Context, st *store.Store, adminPassword string) (changed bool, err error) {
	if adminPassword == "" {
		return false, nil
	}
	u, err := st.GetUserByUsername(ctx, AdminUsername)
	if errors.Is(err, store.ErrUserNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("applying admin password: %w", err)
	}
	same, err := CheckPassword(adminPassword, u.PasswordHash)
	if err != nil {
		return false, fmt.Errorf("applying admin password: checking the stored hash: %w", err)
	}
	if same {
		return false, nil
	}
	if err := CheckPasswordStrength(adminPassword); err != nil {
		return false, fmt.Errorf("applying admin password: %w", err)
	}
	hash, err := HashPassword(adminPassword)
	if err != nil {
		return false, fmt.Errorf("applying admin password: %w", err)
	}
	err = st.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.SetPasswordHash(ctx, u.ID, hash); err != nil {
			return err
		}
		return appendAudit(ctx, tx, "system", "user.password", u.ID, map[string]string{"username": u.Username})
	})
	if err != nil {
		return false, fmt.Errorf("applying admin password: %w", err)
	}
	return true, nil
}
