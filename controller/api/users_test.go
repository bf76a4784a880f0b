package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// loginAs signs in as username; the client sends the session cookie and
// the CSRF token from then on.
func (e *env) loginAs(t testing.TB, username, password string) *client {
	t.Helper()
	c := e.anon()
	r := c.do(t, "POST", "/api/login", map[string]string{"username": username, "password": password}).want(t, 200)
	var info struct {
		CSRFToken string `json:"csrf_token"`
		Role      string `json:"role"`
	}
	r.decode(t, &info)
	c.headers["X-CSRF-Token"] = info.CSRFToken
	return c
}

type userJSON struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	Role        string `json:"role"`
	TOTPEnabled bool   `json:"totp_enabled"`
}

func createUserAPI(t testing.TB, c *client, name, role string) userJSON {
	t.Helper()
	var u userJSON
	c.do(t, "POST", "/api/users", map[string]string{"username": name, "password": name + " password 123", "role": role}).want(t, 201).decode(t, &u)
	if u.Username != name || u.Role != role || u.ID == 0 {
		t.Fatalf("created user %+v, want %s with role %s", u, name, role)
	}
	return u
}

// noSecretsSeen fails the test when any answer c received, or any log
// line, holds a password hash or one of the passwords.
func noSecretsSeen(t *testing.T, e *env, passwords []string, clients ...*client) {
	t.Helper()
	for _, c := range clients {
		for _, b := range c.seen {
			for _, bad := range append([]string{"argon2id", "password_hash", "totp_secret"}, passwords...) {
				if strings.Contains(string(b.body), bad) {
					t.Errorf("%s %s answered %q: %s", b.method, b.path, bad, b.body)
				}
			}
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "msg=request") {
		t.Fatalf("the log holds no request line; the search for passwords in it would prove little:\n%s", logs)
	}
	for _, pw := range passwords {
		if strings.Contains(logs, pw) {
			t.Errorf("a log line holds the password %q", pw)
		}
	}
}

// TestRolesOnRealRequests: an admin makes an operator and a viewer; over
// a node with a real agent the operator manages peers and nothing else,
// the viewer reads and changes nothing, and a refused request writes
// nothing.
func TestRolesOnRealRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, admin, "edge-roles", a, "10.97.0.0/24")
	createUserAPI(t, admin, "otto", "operator")
	createUserAPI(t, admin, "vera", "viewer")
	op := e.loginAs(t, "otto", "otto password 123")
	view := e.loginAs(t, "vera", "vera password 123")

	p := createPeer(t, op, n.ID, map[string]any{"name": "otto-laptop"})
	op.do(t, "PUT", fmt.Sprintf("/api/peers/%d", p.ID), map[string]any{"name": "otto-laptop-2"}).want(t, 200)
	op.do(t, "GET", fmt.Sprintf("/api/peers/%d/config", p.ID), nil).want(t, 200)
	op.do(t, "POST", fmt.Sprintf("/api/peers/%d/restrict", p.ID), nil).want(t, 200)
	op.do(t, "GET", "/api/nodes", nil).want(t, 200)

	before := e.counts(t)
	for _, tc := range []struct {
		c            *client
		method, path string
		body         any
	}{
		{op, "POST", "/api/nodes", nodeBody("edge-2", a, "10.96.0.0/24")},
		{op, "DELETE", fmt.Sprintf("/api/nodes/%d?force=true", n.ID), nil},
		{op, "POST", fmt.Sprintf("/api/nodes/%d/toggle", n.ID), nil},
		{op, "GET", "/api/users", nil},
		{op, "GET", "/api/audit", nil},
		{op, "POST", "/api/users", map[string]string{"username": "x", "password": "x password 123", "role": "admin"}},
		{view, "POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": "vera-phone"}},
		{view, "DELETE", fmt.Sprintf("/api/peers/%d", p.ID), nil},
		{view, "POST", fmt.Sprintf("/api/peers/%d/allow", p.ID), nil},
		{view, "GET", fmt.Sprintf("/api/peers/%d/config", p.ID), nil},
		{view, "GET", fmt.Sprintf("/api/peers/%d/qr", p.ID), nil},
		{view, "POST", fmt.Sprintf("/api/peers/%d/share", p.ID), map[string]any{}},
		{view, "POST", "/api/tokens", map[string]string{"name": "sneaky", "role": "admin"}},
	} {
		r := tc.c.do(t, tc.method, tc.path, tc.body)
		if r.status != 403 {
			t.Errorf("%s %s: %d, want 403: %s", tc.method, tc.path, r.status, r.body)
		}
	}
	if after := e.counts(t); after != before {
		t.Errorf("refused requests wrote: %+v -> %+v", before, after)
	}
	view.do(t, "GET", "/api/nodes", nil).want(t, 200)
	view.do(t, "GET", fmt.Sprintf("/api/peers/%d", p.ID), nil).want(t, 200)
	var me struct {
		Username, Role string
	}
	view.do(t, "GET", "/api/me", nil).want(t, 200).decode(t, &me)
	if me.Username != "vera" || me.Role != "viewer" {
		t.Errorf("GET /api/me = %+v", me)
	}
	noSecretsSeen(t, e, []string{"otto password 123", "vera password 123", adminPassword}, admin, op, view)
}

// TestUserManagement: the users API lists without secrets, refuses bad
// input by field, changes roles at once for sessions and lowers tokens,
// resets passwords ending sessions, never leaves no admin, revokes a
// deleted user's tokens, and audits each change.
func TestUserManagement(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	admin := e.login(t)
	otto := createUserAPI(t, admin, "otto", "operator")

	for _, tc := range []struct {
		body  map[string]string
		field string
		code  int
	}{
		{map[string]string{"username": "otto", "password": "another password", "role": "viewer"}, "", 409},
		{map[string]string{"username": "OTTO", "password": "another password", "role": "viewer"}, "", 409},
		{map[string]string{"username": "weak", "password": "short", "role": "viewer"}, "password", 400},
		{map[string]string{"username": "root", "password": "another password", "role": "root"}, "role", 400},
		{map[string]string{"username": "has space", "password": "another password", "role": "viewer"}, "", 400},
		{map[string]string{"password": "another password", "role": "viewer"}, "username", 400},
	} {
		r := admin.do(t, "POST", "/api/users", tc.body)
		if r.status != tc.code || r.field() != tc.field {
			t.Errorf("POST /api/users %v: %d field %q, want %d field %q: %s", tc.body, r.status, r.field(), tc.code, tc.field, r.body)
		}
	}
	var users []userJSON
	admin.do(t, "GET", "/api/users", nil).want(t, 200).decode(t, &users)
	if len(users) != 2 || users[0].Username != "admin" || users[0].Role != "admin" || users[1] != otto {
		t.Fatalf("GET /api/users = %+v", users)
	}

	// A token otto makes has his role; one above it is refused.
	op := e.loginAs(t, "otto", "otto password 123")
	op.do(t, "POST", "/api/tokens", map[string]string{"name": "otto-admin", "role": "admin"}).want(t, 403)
	var tok struct {
		Token string `json:"token"`
		Role  string `json:"role"`
	}
	op.do(t, "POST", "/api/tokens", map[string]string{"name": "otto-ci"}).want(t, 201).decode(t, &tok)
	if tok.Role != "operator" {
		t.Fatalf("otto's token has role %q, want operator", tok.Role)
	}
	bot := e.anon()
	bot.headers["Authorization"] = "Bearer " + tok.Token
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, admin, "edge-users", a, "10.95.0.0/24")
	createPeer(t, bot, n.ID, map[string]any{"name": "by-token"})
	// otto sees his token only; the admin's is not his to revoke.
	admin.do(t, "POST", "/api/tokens", map[string]string{"name": "admin-ci"}).want(t, 201)
	var list []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	op.do(t, "GET", "/api/tokens", nil).want(t, 200).decode(t, &list)
	if len(list) != 1 || list[0].Name != "otto-ci" {
		t.Errorf("otto's GET /api/tokens = %+v, want his token only", list)
	}
	op.do(t, "DELETE", fmt.Sprintf("/api/tokens/%d", list[0].ID+1), nil).want(t, 404)

	// Made a viewer: his session and his token lose peer writes at once.
	path := fmt.Sprintf("/api/users/%d", otto.ID)
	var u userJSON
	admin.do(t, "PATCH", path, map[string]string{"role": "viewer"}).want(t, 200).decode(t, &u)
	if u.Role != "viewer" {
		t.Fatalf("PATCH role = %+v", u)
	}
	op.do(t, "POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": "after"}).want(t, 403)
	bot.do(t, "POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": "after-token"}).want(t, 403)
	bot.do(t, "GET", "/api/nodes", nil).want(t, 200)

	// An admin's password reset ends all of otto's sessions.
	admin.do(t, "PATCH", path, map[string]string{"password": "short"}).want(t, 400)
	admin.do(t, "PATCH", path, map[string]string{"password": "otto new password"}).want(t, 200)
	op.do(t, "GET", "/api/me", nil).want(t, 401)
	e.anon().do(t, "POST", "/api/login", map[string]string{"username": "otto", "password": "otto password 123"}).want(t, 401)
	e.loginAs(t, "otto", "otto new password")
	admin.do(t, "PATCH", "/api/users/999", map[string]string{"role": "viewer"}).want(t, 404)
	admin.do(t, "PATCH", path, map[string]string{}).want(t, 400)

	// Never no admin.
	admin.do(t, "DELETE", "/api/users/1", nil).want(t, 409)
	admin.do(t, "PATCH", "/api/users/1", map[string]string{"role": "operator"}).want(t, 409)
	if got, _ := e.st.GetUser(ctx, 1); got.Role != "admin" {
		t.Fatalf("the last admin became %q", got.Role)
	}

	// Deleting otto revokes his token.
	admin.do(t, "DELETE", path, nil).want(t, 200)
	bot.do(t, "GET", "/api/nodes", nil).want(t, 401)
	admin.do(t, "DELETE", path, nil).want(t, 404)

	entries, err := e.st.ListAudit(ctx, store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, en := range entries {
		if en.TargetType == "user" && en.Actor == "user:admin" {
			got[en.Action]++
		}
		if strings.Contains(string(en.Details), "password 123") || strings.Contains(string(en.Details), "new password") {
			t.Errorf("audit entry %s holds a password: %s", en.Action, en.Details)
		}
	}
	for action, n := range map[string]int{"user.create": 1, "user.role": 1, "user.password": 1, "user.delete": 1} {
		if got[action] != n {
			t.Errorf("%d %s audit entries by user:admin, want %d (all: %v)", got[action], action, n, got)
		}
	}
	noSecretsSeen(t, e, []string{"otto password 123", "otto new password", adminPassword}, admin, op)
}

// TestChangeOwnPassword: the current password is required (a wrong one is
// 400 naming the field, and counts like a failed login); a change ends
// the user's other sessions and keeps this one; the new password works,
// the old one not; an API token may not.
func TestChangeOwnPassword(t *testing.T) {
	e := newEnv(t, envOptions{})
	c1 := e.login(t)
	c2 := e.login(t)
	const next = "the next admin password"
	r := c1.do(t, "POST", "/api/me/password", map[string]string{"current_password": "wrong one", "new_password": next})
	if r.status != 400 || r.field() != "current_password" {
		t.Fatalf("wrong current password: %d %q: %s", r.status, r.field(), r.body)
	}
	r = c1.do(t, "POST", "/api/me/password", map[string]string{"current_password": adminPassword, "new_password": "short"})
	if r.status != 400 || r.field() != "new_password" {
		t.Fatalf("weak new password: %d %q: %s", r.status, r.field(), r.body)
	}
	c1.do(t, "POST", "/api/me/password", map[string]string{"current_password": adminPassword}).want(t, 400)
	c1.do(t, "POST", "/api/me/password", map[string]string{"current_password": adminPassword, "new_password": next}).want(t, 200)
	c1.do(t, "GET", "/api/me", nil).want(t, 200)
	c2.do(t, "GET", "/api/me", nil).want(t, 401)
	e.anon().do(t, "POST", "/api/login", map[string]string{"username": "admin", "password": adminPassword}).want(t, 401)
	e.loginAs(t, "admin", next)

	tok := e.tokenClient(t, "Authorization")
	tok.do(t, "POST", "/api/me/password", map[string]string{"current_password": next, "new_password": "yet another password"}).want(t, 403)

	// Wrong current passwords are rate limited like logins.
	limited := false
	for range 10 {
		r := c1.do(t, "POST", "/api/me/password", map[string]string{"current_password": "guess guess", "new_password": "yet another password"})
		if r.status == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("guessing the current password was never rate limited")
	}
	noSecretsSeen(t, e, []string{next, adminPassword}, c1, c2, tok)
}
