package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

func userTOTPAAD(userID int64) string { return fmt.Sprintf("user:%d:totp_secret", userID) }

// TOTP is a user's second factor as stored: the secret (opened), whether
// the enrolment was confirmed, and the time step of the last code
// accepted.
type TOTP struct {
	Secret   []byte // nil: the user has none
	Enabled  bool
	LastStep int64
}

// GetTOTP returns a user's TOTP secret, opened, and its state. A user
// without one gives a TOTP with a nil Secret; an unknown user
// ErrUserNotFound.
func (tx *Tx) GetTOTP(ctx context.Context, userID int64) (TOTP, error) {
	var (
		sealed sql.NullString
		t      TOTP
	)
	err := tx.tx.QueryRowContext(ctx, "SELECT totp_secret_enc, totp_enabled, totp_last_step FROM users WHERE id = ?", userID).
		Scan(&sealed, &t.Enabled, &t.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return TOTP{}, fmt.Errorf("user %d: %w", userID, ErrUserNotFound)
	}
	if err != nil {
		return TOTP{}, fmt.Errorf("reading the TOTP of user %d: %w", userID, err)
	}
	if sealed.Valid {
		if t.Secret, err = tx.box.Open(sealed.String, userTOTPAAD(userID)); err != nil {
			return TOTP{}, fmt.Errorf("opening the TOTP secret of user %d: %w", userID, err)
		}
	}
	return t, nil
}

// SetTOTP stores secret, sealed, as the user's TOTP secret, not yet
// enabled (EnableTOTP does that once a code proves the enrolment), and
// forgets the user's recovery codes. A nil secret removes the second
// factor altogether.
func (tx *Tx) SetTOTP(ctx context.Context, userID int64, secret []byte) error {
	var sealed sql.NullString
	if secret != nil {
		s, err := tx.box.Seal(secret, userTOTPAAD(userID))
		if err != nil {
			return fmt.Errorf("sealing the TOTP secret of user %d: %w", userID, err)
		}
		sealed = sql.NullString{String: s, Valid: true}
	}
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE users SET totp_secret_enc = ?, totp_enabled = 0, totp_last_step = 0 WHERE id = ?", sealed, userID)
	if err != nil {
		return fmt.Errorf("setting the TOTP of user %d: %w", userID, err)
	}
	if err := requireRow(res, fmt.Errorf("user %d: %w", userID, ErrUserNotFound)); err != nil {
		return err
	}
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", userID); err != nil {
		return fmt.Errorf("deleting the recovery codes of user %d: %w", userID, err)
	}
	return nil
}

// EnableTOTP marks the user's TOTP enrolment confirmed and stores the
// hashes of their new recovery codes.
func (tx *Tx) EnableTOTP(ctx context.Context, userID int64, recovery []TokenHash) error {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE users SET totp_enabled = 1 WHERE id = ? AND totp_secret_enc IS NOT NULL", userID)
	if err != nil {
		return fmt.Errorf("enabling the TOTP of user %d: %w", userID, err)
	}
	if err := requireRow(res, fmt.Errorf("user %d with a TOTP secret: %w", userID, ErrUserNotFound)); err != nil {
		return err
	}
	for _, h := range recovery {
		if _, err := tx.tx.ExecContext(ctx, "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)", userID, h[:]); err != nil {
			return fmt.Errorf("storing a recovery code of user %d: %w", userID, err)
		}
	}
	return nil
}

// AcceptTOTPStep records that a code of time step step was accepted for
// the user. It returns false, changing nothing, when a code of that step
// or a later one was accepted already: a code works once.
func (tx *Tx) AcceptTOTPStep(ctx context.Context, userID, step int64) (bool, error) {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", step, userID, step)
	if err != nil {
		return false, fmt.Errorf("recording the TOTP step of user %d: %w", userID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("recording the TOTP step of user %d: %w", userID, err)
	}
	return n == 1, nil
}

// UseRecoveryCode spends the user's unused recovery code with the given
// hash. It returns false when there is none (unknown, or used already).
func (tx *Tx) UseRecoveryCode(ctx context.Context, userID int64, hash TokenHash) (bool, error) {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
		tx.now.Unix(), userID, hash[:])
	if err != nil {
		return false, fmt.Errorf("using a recovery code of user %d: %w", userID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("using a recovery code of user %d: %w", userID, err)
	}
	return n == 1, nil
}

// CountRecoveryCodes returns how many unused recovery codes a user has.
func (tx *Tx) CountRecoveryCodes(ctx context.Context, userID int64) (int, error) {
	var n int
	err := tx.tx.QueryRowContext(ctx,
		"SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting the recovery codes of user %d: %w", userID, err)
	}
	return n, nil
}
