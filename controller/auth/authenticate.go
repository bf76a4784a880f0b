package auth

import (
	"net/http"
	"strings"
)

// APIKeyHeader is the header WGDashboard clients send their API key in.
const APIKeyHeader = "wg-dashboard-apikey"

// Authenticate returns who makes r, from (in this order) an
// "Authorization: Bearer TOKEN" header, a "wg-dashboard-apikey: TOKEN"
// header, or the session cookie. When a request carries a token header,
// the cookie is not looked at: a bad token is refused even beside a good
// session. Missing, unknown, expired or revoked credentials give an error
// wrapping ErrUnauthenticated whose text says which; other errors are
// faults of the store.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return Principal{}, unauthenticated(`the Authorization header must be "Bearer <token>"`)
		}
		return a.token(ctx, token)
	}
	if token := strings.TrimSpace(r.Header.Get(APIKeyHeader)); token != "" {
		return a.token(ctx, token)
	}
	if c, err := r.Cookie(SessionCookieName); err == nil && c.Value != "" {
		return a.session(ctx, c.Value)
	}
	return Principal{}, unauthenticated("sign in, or send an API token in the Authorization header")
}
