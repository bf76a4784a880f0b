package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
)

// SessionCookieName is the name of the cookie that carries a session
// token.
const SessionCookieName = "wgfleet_session"

// sessionTokenBytes is the entropy of session tokens and CSRF tokens.
const sessionTokenBytes = 32

// Session is a new browser session, as Login returns it.
type Session struct {
	// Token is the cookie value. Only its hash is stored; it exists here
	// once and must go nowhere but the Set-Cookie header.
	Token     string
	Username  string
	Role      Role
	CSRFToken string
	ExpiresAt time.Time
}

// LogValue keeps the tokens out of logs.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", s.Username), slog.Time("expires_at", s.ExpiresAt))
}

// Login checks a username and password and starts a session. A wrong
// password and an unknown user both give ErrBadCredentials. It gives a
// *RateLimitError without checking the password after too many failures
// for this username from this address (remoteAddr, host and port as in
// http.Request.RemoteAddr), after too many failures from this address
// whatever the usernames, and when all password-check slots stayed busy
// for the configured wait: unknown usernames cost a password check too,
// so none of these may be skipped.
func (a *Authenticator) Login(ctx context.Context, username, password, remoteAddr string) (Session, error) {
	return a.LoginWithCode(ctx, username, password, "", remoteAddr)
}

// LoginWithCode is Login for users who may have a second factor (TOTP):
// after the right password, a user with one needs code, a TOTP code of
// the current period (give or take one) not used before, or an unused
// recovery code (spent by this login). Without a code it gives
// ErrTOTPRequired, which does not count as a failed login (the password
// was right); a wrong code gives ErrBadTOTP and counts like a wrong
// password.
func (a *Authenticator) LoginWithCode(ctx context.Context, username, password, code, remoteAddr string) (Session, error) {
	now := a.now()
	userKey, addrKey := keyFor(username, remoteAddr), addressKey(remoteAddr)
	if retry, ok := a.limiter.begin(userKey, now); !ok {
		a.log.Warn("login rate limited", "username", username, "remote", remoteHost(remoteAddr))
		return Session{}, &RateLimitError{RetryAfter: retry}
	}
	if retry, ok := a.addrLimiter.begin(addrKey, now); !ok {
		a.limiter.cancel(userKey, now)
		a.log.Warn("login rate limited", "username", username, "remote", remoteHost(remoteAddr), "reason", "address")
		return Session{}, &RateLimitError{RetryAfter: retry, Reason: "too many failed logins from this address"}
	}
	user, err := a.store.GetUserByUsername(ctx, username)
	unknown := errors.Is(err, store.ErrNotFound)
	if err != nil && !unknown {
		a.limiter.cancel(userKey, now)
		a.addrLimiter.cancel(addrKey, now)
		return Session{}, fmt.Errorf("login: %w", err)
	}
	hash := user.PasswordHash
	if unknown {
		hash = a.dummy()
	}
	ok, err := a.check(ctx, password, hash)
	var busy *RateLimitError
	if errors.As(err, &busy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// Nothing was checked: the attempt is not a failure.
		a.limiter.cancel(userKey, now)
		a.addrLimiter.cancel(addrKey, now)
		if busy != nil {
			a.log.Warn("login rate limited", "username", username, "remote", remoteHost(remoteAddr), "reason", "busy")
		}
		return Session{}, err
	}
	switch {
	case unknown:
		a.log.Warn("login failed", "username", username, "remote", remoteHost(remoteAddr), "reason", "unknown user")
		return Session{}, ErrBadCredentials
	case err != nil:
		return Session{}, fmt.Errorf("login: user %q: %w", user.Username, err)
	case !ok:
		a.log.Warn("login failed", "username", username, "remote", remoteHost(remoteAddr), "reason", "wrong password")
		return Session{}, ErrBadCredentials
	}
	if user.TOTPEnabled {
		if strings.TrimSpace(code) == "" {
			a.limiter.cancel(userKey, now)
			a.addrLimiter.cancel(addrKey, now)
			return Session{}, ErrTOTPRequired
		}
		accepted, err := inTxBool(ctx, a.store, func(tx *store.Tx) (bool, error) {
			t, err := tx.GetTOTP(ctx, user.ID)
			if err != nil {
				return false, err
			}
			return a.acceptCode(ctx, tx, user.ID, t, code, true)
		})
		if err != nil {
			a.limiter.cancel(userKey, now)
			a.addrLimiter.cancel(addrKey, now)
			return Session{}, fmt.Errorf("login: user %q: %w", user.Username, err)
		}
		if !accepted {
			a.log.Warn("login failed", "username", username, "remote", remoteHost(remoteAddr), "reason", "wrong second factor code")
			return Session{}, ErrBadTOTP
		}
	}
	a.limiter.succeeded(userKey)
	a.addrLimiter.cancel(addrKey, now)

	token, err := randomString(sessionTokenBytes)
	if err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	csrf, err := randomString(sessionTokenBytes)
	if err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	// Whole seconds, as the store keeps them.
	expires := now.Add(a.ttl).Truncate(time.Second)
	if _, err := a.store.CreateSession(ctx, store.Session{
		TokenHash: store.HashToken(token), UserID: user.ID, CSRFToken: csrf, ExpiresAt: expires,
	}); err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	if n, err := a.store.DeleteExpiredSessions(ctx); err != nil {
		a.log.Warn("deleting expired sessions", "err", err)
	} else if n > 0 {
		a.log.Debug("deleted expired sessions", "count", n)
	}
	a.log.Info("login", "username", user.Username, "remote", remoteHost(remoteAddr))
	return Session{Token: token, Username: user.Username, Role: Role(user.Role), CSRFToken: csrf, ExpiresAt: expires}, nil
}

// Logout ends the session whose cookie value is token. Ending a session
// that does not exist (any more) is not an error.
func (a *Authenticator) Logout(ctx context.Context, token string) error {
	if err := a.store.DeleteSession(ctx, store.HashToken(token)); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// session returns the principal of the unexpired session with the given
// cookie value.
func (a *Authenticator) session(ctx context.Context, token string) (Principal, error) {
	hash := store.HashToken(token)
	var (
		p       Principal
		expired bool
	)
	err := a.store.InTx(ctx, func(tx *store.Tx) error {
		sess, err := tx.GetSession(ctx, hash)
		if err != nil {
			return err
		}
		if !a.now().Before(sess.ExpiresAt) {
			// Returning nil commits the delete.
			expired = true
			return tx.DeleteSession(ctx, hash)
		}
		user, err := tx.GetUser(ctx, sess.UserID)
		if err != nil {
			return err
		}
		p = Principal{
			Kind: KindUser, Name: user.Username, ViaCookie: true, CSRFToken: sess.CSRFToken, ExpiresAt: sess.ExpiresAt,
			Role: Role(user.Role), UserID: user.ID, session: hash,
		}
		return nil
	})
	switch {
	case expired:
		return Principal{}, unauthenticated("session expired; sign in again")
	case errors.Is(err, store.ErrNotFound):
		return Principal{}, unauthenticated("session expired or unknown; sign in again")
	case err != nil:
		return Principal{}, fmt.Errorf("reading session: %w", err)
	}
	return p, nil
}

// check runs checkPassword in a hashing slot (see hashSlots).
func (a *Authenticator) check(ctx context.Context, password, hash string) (bool, error) {
	release, err := a.hashes.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return a.checkPassword(password, hash)
}

// dummy returns a hash to check against when the user is unknown.
func (a *Authenticator) dummy() string {
	a.dummyOnce.Do(func() {
		h, err := HashPassword("wgfleet dummy password for unknown users")
		if err != nil {
			a.log.Error("making dummy password hash", "err", err)
		}
		a.dummyHash = h
	})
	return a.dummyHash
}

// inTxBool runs fn in a transaction of st and returns what it reports.
func inTxBool(ctx context.Context, st *store.Store, fn func(tx *store.Tx) (bool, error)) (bool, error) {
	var out bool
	err := st.InTx(ctx, func(tx *store.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}
