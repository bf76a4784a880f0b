package auth

import (
	"fmt"
	"time"

	"github.com/wgfleet/wgfleet/controller/fault"
)

// Errors of this package. Test with errors.Is; every error a method
// returns wraps one of them or a store error. Each carries a fault code.
var (
	// ErrUnauthenticated: the request carries no usable credentials (none,
	// an unknown or expired session, an unknown or revoked token).
	ErrUnauthenticated = fault.New(fault.EUNAUTHENTICATED, "not authenticated")
	// ErrBadCredentials: a login with an unknown user or a wrong password.
	// The two are not told apart.
	ErrBadCredentials = fault.New(fault.EUNAUTHENTICATED, "invalid username or password")
	// ErrRateLimited wraps every *RateLimitError.
	ErrRateLimited = fault.New(fault.ERATELIMITED, "too many failed logins")
	// ErrForbidden: the principal may not do what it asked; the error's
	// text says why.
	ErrForbidden = fault.New(fault.EFORBIDDEN, "forbidden")
	// ErrCSRF: a cookie-authenticated request that changes something did
	// not carry the session's CSRF token.
	ErrCSRF = fault.New(fault.EFORBIDDEN, "CSRF check failed")
	// ErrInvalid: an input (a password, a token name) that may not be
	// used; the error's text says why.
	ErrInvalid = fault.New(fault.EINVALID, "invalid input")
)

// RateLimitError is returned by Login, without checking the password,
// while a username and address or an address alone have failed too
// often, or while too many password checks run and wait already.
// RetryAfter is how long until the next attempt may succeed.
type RateLimitError struct {
	RetryAfter time.Duration
	// Reason says what was limited, for the client; "" means too many
	// failed logins for this username from this address.
	Reason string
}

func (e *RateLimitError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = ErrRateLimited.Error()
	}
	return fmt.Sprintf("%s; try again in %s", reason, e.RetryAfter.Round(time.Second))
}

func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// unauthenticated makes an error wrapping ErrUnauthenticated whose text
// says what was wrong, for the client.
func unauthenticated(reason string) error {
	return fmt.Errorf("%w: %s", ErrUnauthenticated, reason)
}
