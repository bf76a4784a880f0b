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
	return v
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := s.auth.ListTokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]tokenView, 0, len(toks))
	for _, t := range toks {
		out = append(out, viewToken(t))
	}
	s.respond(w, http.StatusOK, "", out)
}

type createTokenRequest struct {
	Name *string `json:"name"`
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	var req createTokenRequest
	if err := decodeRequest(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Name == nil {
		s.fail(w, r, badFieldf("name", "name is required"))
		return
	}
	plain, tok, err := s.auth.CreateToken(r.Context(), principal(r).Actor(), *req.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusCreated, "token created; it is shown only this once",
		newTokenView{tokenView: viewToken(tok), Token: plain})
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "token")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.auth.RevokeToken(r.Context(), principal(r).Actor(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusOK, "token revoked", nil)
}
