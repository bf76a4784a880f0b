package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TOTP parameters (RFC 6238): what every authenticator app takes by
// default. A code is accepted one period early or late (clock skew), once.
const (
	TOTPIssuer  = "wgfleet"
	totpPeriod  = 30 * time.Second
	totpSkew    = 1
	totpDigits  = otp.DigitsSix
	totpSecretB = 20 // bytes of a new secret (160 bits, as RFC 4226 advises)
	// RecoveryCodes is how many recovery codes an enrolment gives.
	RecoveryCodes = 10
	// recoveryCodeBytes is the entropy of a recovery code: 80 bits, shown
	// as 16 base32 characters in four groups.
	recoveryCodeBytes = 10
)

var (
	// ErrTOTPRequired: a login with the right password for a user with a
	// second factor, without a code.
	ErrTOTPRequired = fault.New(fault.EUNAUTHENTICATED, "this account needs a code from its authenticator app (or a recovery code)")
	// ErrBadTOTP: a login with the right password and a wrong, old or used
	// code.
	ErrBadTOTP = fault.New(fault.EUNAUTHENTICATED, "wrong or already used code; enter the current code from the authenticator app, or a recovery code")
	// ErrWrongCode: a TOTP enrolment confirmed, or a second factor
	// disabled, with a wrong, old or used code.
	ErrWrongCode = fault.New(fault.EINVALID, "wrong or already used code; enter the current code from the authenticator app")
	// ErrTOTPState: enrolling while a second factor is on, or confirming
	// or disabling one that is not there.
	ErrTOTPState = fault.New(fault.ECONFLICT, "second factor")
)

// TOTPEnrollment is a started enrolment: what an authenticator app needs.
// Both fields carry the secret: show them to the user, once, and nowhere
// else (never a log).
type TOTPEnrollment struct {
	// URL is the otpauth:// URL, for a QR code.
	URL string
	// Secret is the secret in base32, to type in by hand.
	Secret string
}

// LogValue keeps the secret out of logs.
func (TOTPEnrollment) LogValue() slog.Value { return slog.StringValue("[TOTP enrolment]") }

var totpOpts = totp.ValidateOpts{Period: uint(totpPeriod / time.Second), Skew: totpSkew, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}

// BeginTOTP starts a TOTP enrolment for the signed-in user p: a new
// secret, stored sealed and not yet enabled (a login still needs no code),
// replacing an unconfirmed one. A user whose second factor is on gives
// ErrTOTPState (disable it first); an API token, ErrForbidden.
func (a *Authenticator) BeginTOTP(ctx context.Context, p Principal) (TOTPEnrollment, error) {
	if err := p.mayManageOwnAccount("enrols a second factor"); err != nil {
		return TOTPEnrollment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: TOTPIssuer, AccountName: p.Name, SecretSize: totpSecretB, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("making a TOTP secret: %w", err)
	}
	err = a.store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetTOTP(ctx, p.UserID)
		if err != nil {
			return err
		}
		if cur.Enabled {
			return fmt.Errorf("%w is on already; disable it before enrolling again", ErrTOTPState)
		}
		return tx.SetTOTP(ctx, p.UserID, []byte(key.Secret()))
	})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("starting a TOTP enrolment: %w", err)
	}
	return TOTPEnrollment{URL: key.URL(), Secret: key.Secret()}, nil
}

// ConfirmTOTP ends the enrolment of p with a code from the app: from then
// on a login needs a code. It returns RecoveryCodes recovery codes, which
// exist only in this answer (the store keeps their hashes); each works
// once in place of a code. A wrong code gives ErrWrongCode and counts
// against the login limit of p's name and remoteAddr; no enrolment,
// ErrTOTPState. Audited as "user.totp_enable".
func (a *Authenticator) ConfirmTOTP(ctx context.Context, p Principal, code, remoteAddr string) ([]string, error) {
	if err := p.mayManageOwnAccount("enrols a second factor"); err != nil {
		return nil, err
	}
	codes := make([]string, RecoveryCodes)
	hashes := make([]store.TokenHash, RecoveryCodes)
	for i := range codes {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, fmt.Errorf("making recovery codes: %w", err)
		}
		codes[i], hashes[i] = c, hashRecoveryCode(c)
	}
	err := a.changeWithCode(ctx, p, code, remoteAddr, false, "user.totp_enable",
		func(cur store.TOTP) error {
			if cur.Secret == nil || cur.Enabled {
				return fmt.Errorf("%w: no enrolment is waiting for a code; start one first", ErrTOTPState)
			}
			return nil
		},
		func(tx *store.Tx) error { return tx.EnableTOTP(ctx, p.UserID, hashes) })
	if err != nil {
		return nil, fmt.Errorf("confirming the TOTP enrolment: %w", err)
	}
	a.log.Info("second factor enabled", "username", p.Name)
	return codes, nil
}

// DisableTOTP turns off the second factor of p, who proves it with a code
// from the app or a recovery code: wrong gives ErrWrongCode (counted like
// a failed login). Audited as "user.totp_disable".
func (a *Authenticator) DisableTOTP(ctx context.Context, p Principal, code, remoteAddr string) error {
	if err := p.mayManageOwnAccount("turns off a second factor"); err != nil {
		return err
	}
	err := a.changeWithCode(ctx, p, code, remoteAddr, true, "user.totp_disable",
		func(cur store.TOTP) error {
			if !cur.Enabled {
				return fmt.Errorf("%w is not on", ErrTOTPState)
			}
			return nil
		},
		func(tx *store.Tx) error { return tx.SetTOTP(ctx, p.UserID, nil) })
	if err != nil {
		return fmt.Errorf("turning off the second factor: %w", err)
	}
	a.log.Info("second factor disabled", "username", p.Name)
	return nil
}

// changeWithCode makes a change to p's second factor that p proves with
// a code, in one transaction: state says, from p's current TOTP row,
// whether the change applies (an ErrTOTPState error when not); the code
// must then be accepted (a recovery code too when recovery), else the
// change is not made and ErrWrongCode counts against the login limit of
// p's name and remoteAddr; apply makes the change, audited as action.
func (a *Authenticator) changeWithCode(ctx context.Context, p Principal, code, remoteAddr string, recovery bool, action string,
	state func(store.TOTP) error, apply func(*store.Tx) error) error {
	return a.limited(p.Name, remoteAddr, func() (bool, error) {
		ok := false
		err := a.store.InTx(ctx, func(tx *store.Tx) error {
			cur, err := tx.GetTOTP(ctx, p.UserID)
			if err != nil {
				return err
			}
			if err := state(cur); err != nil {
				return err
			}
			if ok, err = a.acceptCode(ctx, tx, p.UserID, cur, code, recovery); err != nil || !ok {
				return err
			}
			if err := apply(tx); err != nil {
				return err
			}
			return appendAudit(ctx, tx, p.Actor(), action, p.UserID, map[string]string{"username": p.Name})
		})
		return ok, err
	})
}

// ResetTOTP turns off the second factor of user id without a code (an
// admin's help for a user who lost their app and codes), and ends the
// user's sessions. Audited as "user.totp_disable" under actor. A user
// without one gives ErrTOTPState.
func (a *Authenticator) ResetTOTP(ctx context.Context, actor string, id int64) error {
	err := a.store.InTx(ctx, func(tx *store.Tx) error {
		u, err := tx.GetUser(ctx, id)
		if err != nil {
			return err
		}
		cur, err := tx.GetTOTP(ctx, id)
		if err != nil {
			return err
		}
		if cur.Secret == nil {
			return fmt.Errorf("%w: user %q has none", ErrTOTPState, u.Username)
		}
		if err := tx.SetTOTP(ctx, id, nil); err != nil {
			return err
		}
		if _, err := tx.DeleteUserSessions(ctx, id, store.TokenHash{}); err != nil {
			return err
		}
		return appendAudit(ctx, tx, actor, "user.totp_disable", id, map[string]string{"username": u.Username})
	})
	if err != nil {
		return fmt.Errorf("turning off the second factor of user %d: %w", id, err)
	}
	a.log.Info("second factor reset", "actor", actor, "id", id)
	return nil
}

// limited runs check, which reports whether a code was right, under the
// login limit of username and remoteAddr: a wrong code (false) counts as
// a failure and gives ErrWrongCode; a limited attempt gives a
// *RateLimitError without running check.
func (a *Authenticator) limited(username, remoteAddr string, check func() (bool, error)) error {
	now := a.now()
	key := keyFor(username, remoteAddr)
	if retry, ok := a.limiter.begin(key, now); !ok {
		return &RateLimitError{RetryAfter: retry}
	}
	ok, err := check()
	switch {
	case err != nil:
		a.limiter.cancel(key, now)
		return err
	case !ok:
		a.log.Warn("wrong second factor code", "username", username, "remote", remoteHost(remoteAddr))
		return ErrWrongCode
	}
	a.limiter.succeeded(key)
	return nil
}

// acceptCode checks code against t, the user's second factor: a TOTP code
// of now's period or the one before or after, never one of a period
// already used (which it records), or, when recovery is true, an unused
// recovery code (which it spends). It reports whether the code was taken.
func (a *Authenticator) acceptCode(ctx context.Context, tx *store.Tx, userID int64, t store.TOTP, code string, recovery bool) (bool, error) {
	code = strings.TrimSpace(code)
	if code == "" || t.Secret == nil {
		return false, nil
	}
	if recovery && len(code) > int(totpDigits) {
		return tx.UseRecoveryCode(ctx, userID, hashRecoveryCode(code))
	}
	now := a.now()
	for off := -totpSkew; off <= totpSkew; off++ {
		at := now.Add(time.Duration(off) * totpPeriod)
		want, err := totp.GenerateCodeCustom(string(t.Secret), at, totpOpts)
		if err != nil {
			return false, fmt.Errorf("computing a TOTP code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return tx.AcceptTOTPStep(ctx, userID, at.Unix()/int64(totpPeriod/time.Second))
		}
	}
	return false, nil
}

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoveryCode is 80 random bits as "abcd-efgh-ijkl-mnop".
func newRecoveryCode() (string, error) {
	b := make([]byte, recoveryCodeBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := strings.ToLower(recoveryEncoding.EncodeToString(b))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16], nil
}

// hashRecoveryCode hashes a recovery code as typed: letter case, spaces
// and dashes do not matter.
func hashRecoveryCode(code string) store.TokenHash {
	c := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(code))
	return store.HashToken("wgfleet-recovery:" + c)
}

// mayManageOwnAccount refuses an API token, and a principal with no user.
func (p Principal) mayManageOwnAccount(what string) error {
	if p.Kind != KindUser || p.UserID == 0 {
		return fmt.Errorf("%w: only a signed-in user %s, not an API token", ErrForbidden, what)
	}
	return nil
}
