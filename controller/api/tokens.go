package api

import (
	"net/http"
	"time"

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
}

// newTokenView is the answer to creating a token: the one time the token
// itself is shown.
type newTokenView struct {
	tokenView
	Token string `json:"token"`
}

func viewToken(t store.APIToken) tokenView {
	v := tokenView{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt, Revoked: !t.RevokedAt.IsZero()}
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

func (s *server) listTokens(r *http.Request) (result, error) {
	toks, err := s.auth.ListTokens(r.Context())
	if err != nil {
		return result{}, err
	}
	out := make([]tokenView, 0, len(toks))
	for _, t := range toks {
		out = append(out, viewToken(t))
	}
	return success("", out), nil
}

type createTokenRequest struct {
	Name *string `json:"name"`
	// ExpiresIn is the token's lifetime as a Go duration ("720h"); absent
	// or "" means it never expires.
	ExpiresIn *string `json:"expires_in"`
}

// createToken: only a signed-in user may create tokens, never a token
// (auth.Principal.MayCreateTokens).
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
	plain, tok, err := s.auth.CreateToken(r.Context(), p.Actor(), *req.Name, ttl)
	if err != nil {
		return result{}, err
	}
	return created("token created; it is shown only this once",
		newTokenView{tokenView: viewToken(tok), Token: plain}), nil
}

func (s *server) revokeToken(r *http.Request) (result, error) {
	id, err := pathID(r, "token")
	if err != nil {
		return result{}, err
	}
	if err := s.auth.RevokeToken(r.Context(), principal(r).Actor(), id); err != nil {
		return result{}, err
	}
	return success("token revoked", nil), nil
}
