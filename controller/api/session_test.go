package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.anon()
	r := c.do(t, "POST", "/api/login", map[string]string{"username": "admin", "password": adminPassword}).want(t, 200)
	var info struct {
		Username  string    `json:"username"`
		CSRFToken string    `json:"csrf_token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	r.decode(t, &info)
	if info.Username != "admin" || len(info.CSRFToken) < 43 || time.Until(info.ExpiresAt) < 11*time.Hour {
		t.Errorf("login data %+v: want admin, a CSRF token and a 12h expiry", info)
	}
	cookies := (&http.Response{Header: r.header}).Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v, want one", cookies)
	}
	ck := cookies[0]
	testenv.Equal(t, "cookie Name", ck.Name, auth.SessionCookieName)
	testenv.Equal(t, "cookie HttpOnly", ck.HttpOnly, true)
	testenv.Equal(t, "cookie SameSite", ck.SameSite, http.SameSiteStrictMode)
	testenv.Equal(t, "cookie Path", ck.Path, "/")
	testenv.Equal(t, "cookie Secure (plain HTTP)", ck.Secure, false)
	if strings.Contains(string(r.body), ck.Value) {
		t.Error("the session token is in the body")
	}

	// The cookie authenticates; /api/me gives the CSRF token back.
	var me struct {
		Username  string `json:"username"`
		Kind      string `json:"kind"`
		CSRFToken string `json:"csrf_token"`
	}
	c.do(t, "GET", "/api/me", nil).want(t, 200).decode(t, &me)
	if me.Username != "admin" || me.Kind != "user" || me.CSRFToken != info.CSRFToken {
		t.Errorf("me = %+v", me)
	}
}

func TestLoginRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name        string
		body        any
		contentType string
		status      int
		msg         string
	}{
		{"wrong password", map[string]string{"username": "admin", "password": "wrong password"}, "", 401, "invalid username or password"},
		{"unknown user", map[string]string{"username": "root", "password": adminPassword}, "", 401, "invalid username or password"},
		{"no password", map[string]string{"username": "admin"}, "", 400, "password is required"},
		{"no username", map[string]string{"password": "x"}, "", 400, "username is required"},
		{"not JSON", "username=admin&password=x", "", 400, "must be a JSON object"},
		{"broken JSON", `{"username": "admin",`, "", 400, "not valid JSON"},
		{"unknown field", map[string]any{"username": "admin", "password": "x", "remember": true}, "", 400, `unknown field "remember"`},
		{"form post", "{}", "application/x-www-form-urlencoded", 415, "application/json"},
		{"text/plain", "{}", "text/plain", 415, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.anon()
			if tc.contentType != "" {
				req, _ := http.NewRequest("POST", e.srv.URL+"/api/login", strings.NewReader(tc.body.(string)))
				req.Header.Set("Content-Type", tc.contentType)
				res, err := c.hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != tc.status {
					t.Errorf("status %d, want %d", res.StatusCode, tc.status)
				}
				return
			}
			r := c.do(t, "POST", "/api/login", tc.body).want(t, tc.status)
			if !strings.Contains(r.msg(), tc.msg) {
				t.Errorf("message %q, want it to contain %q", r.msg(), tc.msg)
			}
			if len(r.header.Values("Set-Cookie")) != 0 {
				t.Error("a refused login set a cookie")
			}
		})
	}
}

func TestLoginRateLimited(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.anon()
	for i := range auth.DefaultMaxLoginFailures {
		c.do(t, "POST", "/api/login", map[string]string{"username": "admin", "password": "guess " + strconv.Itoa(i)}).want(t, 401)
	}
	r := c.do(t, "POST", "/api/login", map[string]string{"username": "admin", "password": adminPassword}).want(t, 429)
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs <= 0 || secs > int(auth.DefaultLoginFailureWindow.Seconds()) {
		t.Errorf("Retry-After %q, want seconds within the window", r.header.Get("Retry-After"))
	}
	if !strings.Contains(r.msg(), "too many failed logins") {
		t.Errorf("message %q", r.msg())
	}
	e.clock.Advance(auth.DefaultLoginFailureWindow)
	c.do(t, "POST", "/api/login", map[string]string{"username": "admin", "password": adminPassword}).want(t, 200)
}

// One address trying a fresh username each time (the login flood of
// issue 10) is refused with 429 and Retry-After once it has failed
// auth.DefaultMaxAddressFailures times, without a password check.
func TestLoginLimitedPerAddress(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.anon()
	for i := range auth.DefaultMaxAddressFailures {
		c.do(t, "POST", "/api/login", map[string]string{"username": "fresh-" + strconv.Itoa(i), "password": "guess"}).want(t, 401)
	}
	r := c.do(t, "POST", "/api/login", map[string]string{"username": "fresh-next", "password": "guess"}).want(t, 429)
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs <= 0 || secs > int(auth.DefaultLoginFailureWindow.Seconds()) {
		t.Errorf("Retry-After %q, want seconds within the window", r.header.Get("Retry-After"))
	}
	if !strings.Contains(r.msg(), "from this address") {
		t.Errorf("message %q, want it to say the address is limited", r.msg())
	}
	e.clock.Advance(auth.DefaultLoginFailureWindow)
	c.do(t, "POST", "/api/login", map[string]string{"username": "admin", "password": adminPassword}).want(t, 200)
}

// A login body larger than maxLoginBodyBytes is refused with 413 before
// it is read to its end, while the longest password still fits.
func TestLoginBodyLimit(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.anon()
	r := c.do(t, "POST", "/api/login", `{"username": "admin", "password": "`+strings.Repeat("x", maxLoginBodyBytes)+`"}`).want(t, 413)
	if !strings.Contains(r.msg(), strconv.Itoa(maxLoginBodyBytes)) {
		t.Errorf("message %q, want it to name the limit", r.msg())
	}
	longest := strings.Repeat("<", auth.MaxPasswordLength) // JSON-encoded as \u003c, 6 bytes each
	c.do(t, "POST", "/api/login", map[string]string{"username": "admin", "password": longest}).want(t, 401)
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, envOptions{sessionTTL: time.Hour})
	c := e.login(t)
	c.do(t, "GET", "/api/nodes", nil).want(t, 200)
	e.clock.Advance(time.Hour)
	r := c.do(t, "GET", "/api/nodes", nil).want(t, 401)
	if !strings.Contains(r.msg(), "expired") {
		t.Errorf("message %q, want it to say the session expired", r.msg())
	}
	// The answer tells the browser to drop the dead cookie.
	cookies := (&http.Response{Header: r.header}).Cookies()
	if len(cookies) != 1 || cookies[0].Name != auth.SessionCookieName || cookies[0].MaxAge >= 0 {
		t.Errorf("cookies %v, want the session cookie cleared", cookies)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	other := e.login(t)
	c.do(t, "POST", "/api/logout", nil).want(t, 200)
	c.do(t, "GET", "/api/me", nil).want(t, 401)
	other.do(t, "GET", "/api/me", nil).want(t, 200)

	tc := e.tokenClient(t, "Authorization")
	r := tc.do(t, "POST", "/api/logout", nil).want(t, 400)
	if !strings.Contains(r.msg(), "revoked") {
		t.Errorf("token logout message %q", r.msg())
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	csrf := c.headers["X-CSRF-Token"]
	body := map[string]string{"name": "ci"}

	delete(c.headers, "X-CSRF-Token")
	r := c.do(t, "POST", "/api/tokens", body).want(t, 403)
	if !strings.Contains(r.msg(), "X-CSRF-Token") {
		t.Errorf("message %q", r.msg())
	}
	c.headers["X-CSRF-Token"] = csrf + "x"
	c.do(t, "POST", "/api/tokens", body).want(t, 403)
	c.do(t, "DELETE", "/api/tokens/1", nil).want(t, 403)
	if n := e.counts(t).tokens; n != 0 {
		t.Fatalf("refused requests made %d tokens", n)
	}
	// Reads need none.
	c.do(t, "GET", "/api/tokens", nil).want(t, 200)
	c.headers["X-CSRF-Token"] = csrf
	c.do(t, "POST", "/api/tokens", body).want(t, 201)

	// Token-authenticated writes need none: a browser never sends a token
	// header on its own. (A token may not create tokens; it may revoke.)
	for _, h := range []string{"Authorization", auth.APIKeyHeader} {
		var victim struct {
			ID int64 `json:"id"`
		}
		c.do(t, "POST", "/api/tokens", body).want(t, 201).decode(t, &victim)
		tc := e.tokenClient(t, h)
		tc.do(t, "DELETE", "/api/tokens/"+strconv.FormatInt(victim.ID, 10), nil).want(t, 200)
	}
}

// Only a signed-in user creates tokens: a token asking is refused with
// 403 and makes nothing, whichever header carries it (issue 10 item 8).
func TestTokenCannotMintTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, h := range []string{"Authorization", auth.APIKeyHeader} {
		tc := e.tokenClient(t, h)
		r := tc.do(t, "POST", "/api/tokens", map[string]string{"name": "minted"}).want(t, 403)
		if !strings.Contains(r.msg(), "only a signed-in user") {
			t.Errorf("%s: message %q", h, r.msg())
		}
	}
	if n := e.counts(t).tokens; n != 2 {
		t.Errorf("%d tokens, want the 2 the test made", n)
	}
}

// A token created with expires_in shows its expires_at, authenticates
// until then and is 401 "expired" after; a bad expires_in is 400 naming
// the field.
func TestTokenExpiresIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	var created struct {
		ID        int64      `json:"id"`
		Token     string     `json:"token"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	c.do(t, "POST", "/api/tokens", map[string]string{"name": "short", "expires_in": "2h"}).want(t, 201).decode(t, &created)
	if want := e.clock.Now().Add(2 * time.Hour).Truncate(time.Second); created.ExpiresAt == nil || !created.ExpiresAt.Equal(want) {
		t.Fatalf("expires_at %v, want %v", created.ExpiresAt, want)
	}
	var forever struct {
		ExpiresAt *time.Time `json:"expires_at"`
	}
	c.do(t, "POST", "/api/tokens", map[string]string{"name": "forever"}).want(t, 201).decode(t, &forever)
	if forever.ExpiresAt != nil {
		t.Errorf("token without expires_in expires at %v", forever.ExpiresAt)
	}
	var list []struct {
		ID        int64      `json:"id"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	c.do(t, "GET", "/api/tokens", nil).want(t, 200).decode(t, &list)
	if testenv.Equal(t, "number of tokens", len(list), 2) {
		if testenv.Equal(t, "first token has expires_at", list[0].ExpiresAt != nil, true) {
			testenv.Equal(t, "first token's expires_at is the one created", list[0].ExpiresAt.Equal(*created.ExpiresAt), true)
		}
		testenv.Equal(t, "second token has expires_at", list[1].ExpiresAt != nil, false)
	}

	tc := e.anon()
	tc.headers["Authorization"] = "Bearer " + created.Token
	tc.do(t, "GET", "/api/nodes", nil).want(t, 200)
	e.clock.Advance(2 * time.Hour)
	r := tc.do(t, "GET", "/api/nodes", nil).want(t, 401)
	if !strings.Contains(r.msg(), "expired") {
		t.Errorf("expired token message %q", r.msg())
	}

	for _, bad := range []string{"soon", "-1h", "0s", "1s"} {
		r := c.do(t, "POST", "/api/tokens", map[string]string{"name": "bad", "expires_in": bad}).want(t, 400)
		if !strings.Contains(r.msg(), "expires_in") && !strings.Contains(r.msg(), "lifetime") {
			t.Errorf("expires_in %q: message %q", bad, r.msg())
		}
	}
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	var created struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Prefix string `json:"prefix"`
		Token  string `json:"token"`
	}
	r := c.do(t, "POST", "/api/tokens", map[string]string{"name": "deploy"}).want(t, 201)
	r.decode(t, &created)
	if !strings.HasPrefix(created.Token, auth.TokenPrefix) || created.Name != "deploy" || !strings.HasPrefix(created.Token, created.Prefix) {
		t.Fatalf("created %+v", created)
	}

	bearer, apikey := e.anon(), e.anon()
	bearer.headers["Authorization"] = "Bearer " + created.Token
	apikey.headers[auth.APIKeyHeader] = created.Token
	for name, tc := range map[string]*client{"bearer": bearer, "wg-dashboard-apikey": apikey} {
		var me struct {
			Username  string `json:"username"`
			Kind      string `json:"kind"`
			CSRFToken string `json:"csrf_token"`
		}
		tc.do(t, "GET", "/api/me", nil).want(t, 200).decode(t, &me)
		if me.Username != "deploy" || me.Kind != "token" || me.CSRFToken != "" {
			t.Errorf("%s: me = %+v", name, me)
		}
		tc.do(t, "GET", "/api/nodes", nil).want(t, 200)
	}

	list := c.do(t, "GET", "/api/tokens", nil).want(t, 200)
	if strings.Contains(string(list.body), created.Token) {
		t.Error("token list holds the token")
	}
	var toks []struct {
		ID         int64      `json:"id"`
		LastUsedAt *time.Time `json:"last_used_at"`
		Revoked    bool       `json:"revoked"`
	}
	list.decode(t, &toks)
	if testenv.Equal(t, "number of tokens", len(toks), 1) {
		testenv.Equal(t, "token id", toks[0].ID, created.ID)
		testenv.Equal(t, "token used (last_used_at set)", toks[0].LastUsedAt != nil, true)
		testenv.Equal(t, "token revoked", toks[0].Revoked, false)
	}

	c.do(t, "DELETE", "/api/tokens/"+strconv.FormatInt(created.ID, 10), nil).want(t, 200)
	r = bearer.do(t, "GET", "/api/nodes", nil).want(t, 401)
	if !strings.Contains(r.msg(), "revoked") {
		t.Errorf("revoked token message %q", r.msg())
	}
	apikey.do(t, "GET", "/api/nodes", nil).want(t, 401)
	c.do(t, "DELETE", "/api/tokens/999", nil).want(t, 404)
	c.do(t, "DELETE", "/api/tokens/abc", nil).want(t, 400)
	r = c.do(t, "POST", "/api/tokens", map[string]string{"name": ""}).want(t, 400)
	if !strings.Contains(r.msg(), "name") {
		t.Errorf("empty name message %q", r.msg())
	}
}

// Every /api route but login refuses a request without credentials, before
// it looks at anything else.
func TestEveryRouteNeedsAuth(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.anon()
	for _, rt := range []string{
		"POST /api/logout", "GET /api/me", "GET /api/status", "GET /api/tokens", "POST /api/tokens", "DELETE /api/tokens/1",
		"GET /api/nodes", "POST /api/nodes", "POST /api/nodes/test", "GET /api/nodes/1", "PUT /api/nodes/1",
		"DELETE /api/nodes/1", "POST /api/nodes/1/toggle", "POST /api/nodes/1/test", "POST /api/nodes/1/drain",
		"GET /api/nodes/1/drift", "POST /api/nodes/1/reconcile", "GET /api/nodes/1/peers", "POST /api/nodes/1/peers",
		"GET /api/peers", "POST /api/peers", "GET /api/peers/1", "PUT /api/peers/1", "DELETE /api/peers/1",
		"POST /api/peers/1/restrict", "POST /api/peers/1/allow", "GET /api/peers/1/config", "GET /api/peers/1/qr",
		"POST /api/peers/1/move", "POST /api/peers/1/share", "GET /api/peers/1/shares", "DELETE /api/shares/1",
		"GET /api/webhooks", "POST /api/webhooks", "GET /api/webhooks/events", "DELETE /api/webhooks/1",
		"POST /api/webhooks/1/test", "GET /api/webhooks/1/deliveries",
	} {
		method, path, _ := strings.Cut(rt, " ")
		if r := c.do(t, method, path, nil); r.status != 401 {
			t.Errorf("%s: status %d, want 401", rt, r.status)
		}
	}
	c.headers["Authorization"] = "Basic YWRtaW46eA=="
	if r := c.do(t, "GET", "/api/nodes", nil); r.status != 401 || !strings.Contains(r.msg(), "Bearer") {
		t.Errorf("basic auth: %d %q", r.status, r.msg())
	}
}
