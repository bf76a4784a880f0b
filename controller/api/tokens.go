package api

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/store"
)

// tokenView is an API token as listed: never the token or its hash.
type tokenView struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Revoked    bool       `json:"revoked"`
	ExpiresAt  *time.Time `json:"expires_at"` // null: never
	Role       auth.Role  `json:"role"`
}

// newTokenView is the answer to creating a token: the one time the token
// itself is shown.
type newTokenView struct {
	tokenView
	Token string `json:"token"`
}

func viewToken(t store.APIToken) tokenView {
	v := tokenView{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt, Revoked: !t.RevokedAt.IsZero(), Role: auth.Role(t.Role)}
	if !t.LastUsedAt.IsZero() {
		v.LastUsedAt = &t.LastUsedAt
	}
	if !t.RevokedAt.IsZero() {
		v.RevokedAt = &t.RevokedAt
	}
	if !t.ExpiresAt.IsZero() {
		v.ExpiresAt = &t.ExpiresAt
	}
	return v
}

// listTokens: GET /api/tokens: every token for an admin, the caller's
// own (made by the same user) for anyone else.
func (s *server) listTokens(r *http.Request) (result, error) {
	toks, err := s.auth.ListTokens(r.Context())
	if err != nil {
		return result{}, err
	}
	p := principal(r)
	out := make([]tokenView, 0, len(toks))
	for _, t := range toks {
		if ownsToken(p, t) {
			out = append(out, viewToken(t))
		}
	}
	return success("", out), nil
}

type createTokenRequest struct {
	Name *string `json:"name"`
	// ExpiresIn is the token's lifetime as a Go duration ("720h"); absent
	// or "" means it never expires.
	ExpiresIn *string `json:"expires_in"`
	// Role is the token's role, never above the caller's; absent or ""
	// means the caller's.
	Role *string `json:"role"`
}

// createToken: only a signed-in user may create tokens, never a token
// (auth.Principal.MayCreateTokens), and none above their role.
func (s *server) createToken(r *http.Request) (result, error) {
	p := principal(r)
	if err := p.MayCreateTokens(); err != nil {
		return result{}, err
	}
	req, err := decodeBody(r, decodeJSON[createTokenRequest])
	if err != nil {
		return result{}, err
	}
	if req.Name == nil {
		return result{}, badFieldf("name", "name is required")
	}
	var ttl time.Duration
	if req.ExpiresIn != nil && *req.ExpiresIn != "" {
		if ttl, err = time.ParseDuration(*req.ExpiresIn); err != nil || ttl <= 0 {
			return result{}, badFieldf("expires_in", `expires_in must be a positive duration such as "720h"`)
		}
	}
	var role auth.Role
	if req.Role != nil && *req.Role != "" {
		if role, err = parseRoleField(*req.Role); err != nil {
			return result{}, err
		}
	}
	plain, tok, err := s.auth.CreateTokenFor(r.Context(), p, *req.Name, ttl, role)
	if err != nil {
		return result{}, err
	}
	return created("token created; it is shown only this once",
		newTokenView{tokenView: viewToken(tok), Token: plain}), nil
}

// revokeToken: DELETE /api/tokens/{id}: any token for an admin, the
// caller's own for anyone else (another's is not found).
func (s *server) revokeToken(r *http.Request) (result, error) {
	id, err := pathID(r, "token")
	if err != nil {
		return result{}, err
	}
	p := principal(r)
	if !p.Role.AtLeast(auth.RoleAdmin) {
		toks, err := s.auth.ListTokens(r.Context())
		if err != nil {
			return result{}, err
		}
		i := slices.IndexFunc(toks, func(t store.APIToken) bool { return t.ID == id })
		if i < 0 || !ownsToken(p, toks[i]) {
			return result{}, fmt.Errorf("api token %d: %w", id, store.ErrAPITokenNotFound)
		}
	}
	if err := s.auth.RevokeToken(r.Context(), principal(r).Actor(), id); err != nil {
		return result{}, err
	}
	return success("token revoked", nil), nil
}

// ownsToken reports whether p may see and revoke t: an admin any token,
// anyone else the tokens made by the same user.
func ownsToken(p auth.Principal, t store.APIToken) bool {
	return p.Role.AtLeast(auth.RoleAdmin) || p.UserID != 0 && t.UserID == p.UserID
}
