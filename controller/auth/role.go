package auth

import (
	"fmt"
)

// Role is what a user or an API token may do. Each role may do all that
// the roles below it may.
type Role string

const (
	// RoleViewer reads: nodes, peers, their state. No secret (a peer's
	// config or QR code) and no change but to its own account.
	RoleViewer Role = "viewer"
	// RoleOperator is a viewer who also manages peers: creates, edits,
	// deletes, moves, restricts, allows and shares them, and downloads
	// their configs.
	RoleOperator Role = "operator"
	// RoleAdmin does everything: nodes, users, tokens, webhooks, the audit
	// log.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from the least to the most powerful.
func Roles() []Role { return []Role{RoleViewer, RoleOperator, RoleAdmin} }

// rank orders roles; 0 is no role.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r may do what min may. An invalid role may do
// nothing.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// above returns the roles more powerful than r, as the store's strings.
func (r Role) above() []string {
	var out []string
	for _, o := range Roles() {
		if o.rank() > r.rank() {
			out = append(out, string(o))
		}
	}
	return out
}

// ParseRole returns the role named s, or an error wrapping ErrInvalid.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("%w: role must be admin, operator or viewer, not %q", ErrInvalid, s)
	}
	return r, nil
}
