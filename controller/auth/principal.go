package auth

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
)

// Kind is how a principal authenticated.
type Kind string

const (
	KindUser  Kind = "user"  // a person with a session
	KindToken Kind = "token" // an API token
)

// Principal is who makes a request.
type Principal struct {
	Kind Kind
	// Name is the username, or the API token's name.
	Name string
	// ViaCookie is true when the request authenticated with the session
	// cookie, which a browser sends on its own: such a request must prove
	// with the CSRF token that the page sending it is ours.
	ViaCookie bool
	// CSRFToken is the session's anti-CSRF token; "" for API tokens.
	CSRFToken string
	// ExpiresAt is when the session ends; zero for API tokens.
	ExpiresAt time.Time
	// Role is what the principal may do: the user's role, read at every
	// request, or the token's.
	Role Role
	// UserID is the signed-in user, or the user who made the API token
	// (0: a token of the command line or from before roles).
	UserID int64
	// TokenID is the API token's id; 0 for a session.
	TokenID int64
	// session is the hash of the session's token; zero for API tokens.
	session store.TokenHash
}

// Require returns an error wrapping ErrForbidden unless p's role is min
// or above.
func (p Principal) Require(min Role) error {
	if !p.Role.AtLeast(min) {
		role := string(p.Role)
		if role == "" {
			role = "no role"
		}
		return fmt.Errorf("%w: this needs the role %s or above; %s has %s", ErrForbidden, min, p.Actor(), role)
	}
	return nil
}

// Actor is the principal as the audit log names it: "user:NAME" or
// "token:NAME".
func (p Principal) Actor() string { return fmt.Sprintf("%s:%s", p.Kind, p.Name) }

// LogValue keeps the CSRF token out of logs.
func (p Principal) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", string(p.Kind)), slog.String("name", p.Name), slog.String("role", string(p.Role)))
}

// MayCreateTokens returns an error wrapping ErrForbidden unless p is a
// person with a session. An API token may not mint tokens: what a token
// can do ends when it is revoked or expires, and nothing it made outlives
// it.
func (p Principal) MayCreateTokens() error {
	if p.Kind != KindUser {
		return fmt.Errorf("%w: only a signed-in user creates API tokens, not an API token", ErrForbidden)
	}
	return nil
}

// CheckCSRF compares the token a request sent (the X-CSRF-Token header)
// with the session's, in constant time. A principal without a session
// (an API token) has nothing to check and passes.
func (p Principal) CheckCSRF(sent string) error {
	if !p.ViaCookie {
		return nil
	}
	if sent == "" {
		return fmt.Errorf("%w: missing X-CSRF-Token header", ErrCSRF)
	}
	if p.CSRFToken == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(p.CSRFToken)) != 1 {
		return fmt.Errorf("%w: X-CSRF-Token does not match the session", ErrCSRF)
	}
	return nil
}
