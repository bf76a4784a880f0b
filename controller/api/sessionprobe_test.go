package api

import (
	"net/http"
	"testing"

	"github.com/wgfleet/wgfleet/controller/auth"
)

// TestSessionProbe: GET /api/session answers 200 whether or not anyone is
// signed in (data null, "not signed in"), tells the signed-in user what
// /api/me tells (with the CSRF token), and drops a session cookie that no
// longer works.
func TestSessionProbe(t *testing.T) {
	e := newEnv(t, envOptions{})
	anon := e.anon()
	r := anon.do(t, "GET", "/api/session", nil).want(t, 200)
	if r.msg() != "not signed in" || string(r.env.Data) != "null" {
		t.Fatalf("signed out: %q %s", r.msg(), r.env.Data)
	}

	c := e.login(t)
	type info struct {
		Username  string `json:"username"`
		Kind      string `json:"kind"`
		CSRFToken string `json:"csrf_token"`
	}
	var probe, me info
	c.do(t, "GET", "/api/session", nil).want(t, 200).decode(t, &probe)
	c.do(t, "GET", "/api/me", nil).want(t, 200).decode(t, &me)
	if probe != me || probe.Username != "admin" || probe.CSRFToken != c.headers["X-CSRF-Token"] {
		t.Fatalf("/api/session %+v, /api/me %+v", probe, me)
	}

	c.do(t, "POST", "/api/logout", nil).want(t, 200)
	stale := e.anon()
	stale.headers["Cookie"] = auth.SessionCookieName + "=not-a-session"
	r = stale.do(t, "GET", "/api/session", nil).want(t, 200)
	cleared := false
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		cleared = cleared || (ck.Name == auth.SessionCookieName && ck.MaxAge < 0)
	}
	if string(r.env.Data) != "null" || !cleared {
		t.Fatalf("stale cookie: data %s, cookie cleared %v", r.env.Data, cleared)
	}
}
