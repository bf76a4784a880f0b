package auth

import (
	"context"
	"fmt"
	"io"

	"github.com/wgfleet/wgfleet/controller/store"
)

// AdminUsername is the user Bootstrap creates.
const AdminUsername = "admin"

// generatedPasswordBytes is the entropy of a generated admin password
// (24 characters of base64url).
const generatedPasswordBytes = 18

// Bootstrap creates the first user when there is none: AdminUsername with
// adminPassword, which must pass CheckPasswordStrength, or, when
// adminPassword is "", with a random password that is written once to out
// (the only place it ever appears; it is never logged). With users already
// there it changes nothing and returns false, whatever adminPassword is.
func Bootstrap(ctx context.Context, st *store.Store, adminPassword string, out io.Writer) (created bool, err error) {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	password, generated := adminPassword, false
	if password == "" {
		if password, err = randomString(generatedPasswordBytes); err != nil {
			return false, fmt.Errorf("bootstrap: generating admin password: %w", err)
		}
		generated = true
	} else if err := CheckPasswordStrength(password); err != nil {
		return false, fmt.Errorf("bootstrap: admin password: %w", err)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	err = st.InTx(ctx, func(tx *store.Tx) error {
		// Counted again under the write lock: another process may have
		// created the first user meanwhile.
		if n, err := tx.CountUsers(ctx); err != nil || n > 0 {
			return err
		}
		u, err := tx.CreateUser(ctx, AdminUsername, hash)
		if err != nil {
			return err
		}
		created = true
		return appendAudit(ctx, tx, "system", "user.create", u.ID, map[string]string{"username": u.Username})
	})
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	if created && generated {
		if _, err := fmt.Fprintf(out, "Created user %q with password: %s\nThis password is shown once; keep it.\n", AdminUsername, password); err != nil {
			return true, fmt.Errorf("bootstrap: printing admin password: %w", err)
		}
	}
	return created, nil
}
