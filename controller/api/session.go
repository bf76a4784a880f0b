package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/wgfleet/wgfleet/controller/auth"
)

// maxLoginBodyBytes bounds the body of a login, which anyone may send: a
// username and a password of auth.MaxPasswordLength bytes fit even with
// every character escaped as \u00XX (6 bytes), and nobody unauthenticated
// makes the controller buffer more.
const maxLoginBodyBytes = 8 << 10

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
	// TOTPCode is the second factor of a user who has one: a code from
	// the authenticator app, or a recovery code.
	TOTPCode *string `json:"totp_code"`
}

// sessionInfo is what the UI learns about its session: never the session
// token, which lives in the HttpOnly cookie only.
type sessionInfo struct {
	Username string    `json:"username"`
	Kind     auth.Kind `json:"kind"`
	Role     auth.Role `json:"role"`
	// TOTPEnabled: the user has a second factor (sessions only).
	TOTPEnabled bool       `json:"totp_enabled"`
	CSRFToken   string     `json:"csrf_token,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// login: POST /api/login {"username", "password"}. It sets the session
// cookie and answers the CSRF token the UI must send with every change.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if err := requireJSON(r); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := decodeBody(limitBodyTo(w, r, maxLoginBodyBytes), decodeJSON[loginRequest])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Username == nil || *req.Username == "" {
		s.fail(w, r, badFieldf("username", "username is required"))
		return
	}
	if req.Password == nil || *req.Password == "" {
		s.fail(w, r, badFieldf("password", "password is required"))
		return
	}
	code := ""
	if req.TOTPCode != nil {
		code = *req.TOTPCode
	}
	sess, err := s.auth.LoginWithCode(r.Context(), *req.Username, *req.Password, code, r.RemoteAddr)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.principal = "user:" + sess.Username
	}
	http.SetCookie(w, &http.Cookie{
		Name:     auth.SessionCookieName,
		Value:    sess.Token,
		Path:     "/",
		Expires:  sess.ExpiresAt,
		MaxAge:   int(time.Until(sess.ExpiresAt).Seconds()),
		HttpOnly: true,
		Secure:   s.secureCookies,
		SameSite: http.SameSiteStrictMode,
	})
	s.respond(w, http.StatusOK, "signed in", sessionInfo{
		Username: sess.Username, Kind: auth.KindUser, Role: sess.Role, CSRFToken: sess.CSRFToken, ExpiresAt: &sess.ExpiresAt,
	})
}

// logout: POST /api/logout ends the session of the cookie.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !p.ViaCookie {
		s.fail(w, r, badRequestf("logout ends a browser session; an API token is revoked with DELETE /api/tokens/{id}"))
		return
	}
	c, err := r.Cookie(auth.SessionCookieName)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.auth.Logout(r.Context(), c.Value); err != nil {
		s.fail(w, r, err)
		return
	}
	s.clearSessionCookie(w)
	s.respond(w, http.StatusOK, "signed out", nil)
}

// me: GET /api/me says who the caller is and, for a session, its CSRF
// token (the UI fetches it again after a reload).
func (s *server) me(r *http.Request) (result, error) {
	info, err := s.sessionInfoOf(r.Context(), principal(r))
	if err != nil {
		return result{}, err
	}
	return success("", info), nil
}

// sessionInfoOf is what /api/me and /api/session say about p.
func (s *server) sessionInfoOf(ctx context.Context, p auth.Principal) (sessionInfo, error) {
	info := sessionInfo{Username: p.Name, Kind: p.Kind, Role: p.Role, CSRFToken: p.CSRFToken}
	if p.Kind == auth.KindUser {
		u, err := s.auth.GetUser(ctx, p.UserID)
		if err != nil {
			return sessionInfo{}, err
		}
		info.TOTPEnabled = u.TOTPEnabled
	}
	if !p.ExpiresAt.IsZero() {
		info.ExpiresAt = &p.ExpiresAt
	}
	return info, nil
}

// session: GET /api/session is /api/me for a page that does not know yet
// whether anyone is signed in: 200 either way, with data null (and the
// message "not signed in") when nobody is, so that a first visit does not
// log a failed request in the browser's console. Like /api/me, it drops a
// session cookie that no longer works.
func (s *server) session(w http.ResponseWriter, r *http.Request) {
	p, err := s.auth.Authenticate(r)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		if hasSessionCookie(r) {
			s.clearSessionCookie(w)
		}
		s.respond(w, http.StatusOK, "not signed in", nil)
	case err != nil:
		s.fail(w, r, err)
	default:
		info, err := s.sessionInfoOf(r.Context(), p)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, "", info)
	}
}

func hasSessionCookie(r *http.Request) bool {
	_, err := r.Cookie(auth.SessionCookieName)
	return err == nil
}

// clearSessionCookie tells the browser to drop the session cookie.
func (s *server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: auth.SessionCookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies, SameSite: http.SameSiteStrictMode,
	})
}
