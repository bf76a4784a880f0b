package api

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestSecurityHeadersEverywhere(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>ui</title>")
	})
	e := newEnv(t, envOptions{ui: ui})
	c := e.login(t)
	anon := e.anon()
	for _, tc := range []struct {
		c            *client
		method, path string
		status       int
	}{
		{anon, "GET", "/healthz", 200},
		{anon, "GET", "/", 200},
		{anon, "GET", "/assets/app.js", 200},
		{anon, "GET", "/api/nodes", 401},
		{anon, "GET", "/api/nope", 404},
		{c, "GET", "/api/nodes", 200},
		{c, "PATCH", "/api/nodes", 405},
		{c, "GET", "/api/peers/1/config", 404},
	} {
		r := tc.c.do(t, tc.method, tc.path, nil)
		if r.status != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, r.status, tc.status)
		}
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"X-Frame-Options":        "DENY",
		} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s %s: %s %q, want %q", tc.method, tc.path, h, got, want)
			}
		}
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s %s: CSP %q", tc.method, tc.path, csp)
		}
		if strings.HasPrefix(tc.path, "/api/") && r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", tc.method, tc.path, r.header.Get("Cache-Control"))
		}
	}
}

func TestRoutingAnswers(t *testing.T) {
	uiHits := 0
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { uiHits++ })
	e := newEnv(t, envOptions{ui: ui})
	c := e.login(t)

	r := c.do(t, "GET", "/api/nodes/1/nothing", nil).want(t, 404)
	if !strings.Contains(r.msg(), "no such route") {
		t.Errorf("unknown route: %q", r.msg())
	}
	r = c.do(t, "PATCH", "/api/nodes/1", nil).want(t, 405)
	if !strings.Contains(r.msg(), "PATCH") {
		t.Errorf("wrong method: %q", r.msg())
	}
	c.do(t, "GET", "/api", nil).want(t, 404)
	if uiHits != 0 {
		t.Errorf("the UI served %d API paths", uiHits)
	}
	c.do(t, "GET", "/index.html", nil).want(t, 200)
	if uiHits != 1 {
		t.Errorf("the UI was not asked for /index.html")
	}
	r = c.do(t, "GET", "/healthz", nil).want(t, 200)
	if !r.env.Status {
		t.Errorf("healthz %s", r.body)
	}

	noUI := newEnv(t, envOptions{})
	noUI.anon().do(t, "GET", "/", nil).want(t, 404)
}

// The request log has one line per request with method, path, status and
// principal, and nothing from headers, query or body.
func TestRequestLog(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	c.do(t, "GET", "/api/nodes?secret=query-secret-value", nil).want(t, 200)
	tc := e.tokenClient(t, "Authorization")
	tc.do(t, "GET", "/api/peers", nil).want(t, 200)
	e.anon().do(t, "GET", "/api/tokens", nil).want(t, 401)

	logs := e.logs.String()
	for _, want := range []string{
		`msg=request method=GET path=/api/nodes status=200`, "principal=user:admin",
		`path=/api/peers status=200`, "principal=token:test-Authorization",
		`path=/api/tokens status=401`, `path=/api/login status=200`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, never := range []string{"query-secret-value", tc.headers["Authorization"][len("Bearer "):], c.headers["X-CSRF-Token"], adminPassword} {
		if strings.Contains(logs, never) {
			t.Errorf("log holds %q", never)
		}
	}
}

func TestPanicIsA500(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	e := newEnv(t, envOptions{ui: ui})
	r := e.anon().do(t, "GET", "/", nil).want(t, 500)
	if r.msg() != "internal error" {
		t.Errorf("message %q", r.msg())
	}
	if !strings.Contains(e.logs.String(), "panic serving request") {
		t.Error("panic not logged")
	}
	e.anon().do(t, "GET", "/healthz", nil).want(t, 200)
}
