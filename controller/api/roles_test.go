package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/webhook"
)

// roleRefusal is what the text of a refusal for want of a role says
// (auth.Principal.Require); other 403s (CSRF, a token making a token) do
// not.
const roleRefusal = "this needs the role"

// routeCaller is one kind of principal calling every route: a session
// (cookie and CSRF token, made fresh for each request, since logout ends
// it) or an API token of a role.
type routeCaller struct {
	name    string
	role    auth.Role
	headers func(t *testing.T) map[string]string
}

// wantAccess is the roles matrix (docs/SECURITY.md): the least role of
// every route, "" for the open ones. It is written apart from routes on
// purpose: a route whose role changes, or a new route, must be changed
// here too, and the matrix in the docs with it.
func wantAccess() map[string]auth.Role {
	const (
		open                    = auth.Role("")
		viewer, operator, admin = auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin
	)
	return map[string]auth.Role{
		"GET /healthz":                       open,
		"HEAD /healthz":                      open,
		"POST /api/login":                    open,
		"GET /api/session":                   open,
		"POST /api/share/open":               open,
		"POST /api/enroll":                   open,
		"POST /api/logout":                   viewer,
		"GET /api/me":                        viewer,
		"GET /api/demo":                      viewer,
		"GET /api/status":                    viewer,
		"POST /api/me/password":              viewer,
		"POST /api/me/totp":                  viewer,
		"POST /api/me/totp/confirm":          viewer,
		"POST /api/me/totp/disable":          viewer,
		"GET /api/tokens":                    viewer,
		"POST /api/tokens":                   viewer,
		"DELETE /api/tokens/{id}":            viewer,
		"GET /api/users":                     admin,
		"POST /api/users":                    admin,
		"PATCH /api/users/{id}":              admin,
		"DELETE /api/users/{id}":             admin,
		"DELETE /api/users/{id}/totp":        admin,
		"GET /api/audit":                     admin,
		"GET /api/enrollment-tokens":         admin,
		"POST /api/enrollment-tokens":        admin,
		"DELETE /api/enrollment-tokens/{id}": admin,
		"GET /api/nodes":                     viewer,
		"POST /api/nodes":                    admin,
		"POST /api/nodes/test":               admin,
		"GET /api/nodes/{id}":                viewer,
		"PUT /api/nodes/{id}":                admin,
		"DELETE /api/nodes/{id}":             admin,
		"POST /api/nodes/{id}/toggle":        admin,
		"POST /api/nodes/{id}/test":          admin,
		"POST /api/nodes/{id}/repin":         admin,
		"POST /api/nodes/{id}/drain":         admin,
		"GET /api/nodes/{id}/drift":          viewer,
		"POST /api/nodes/{id}/reconcile":     admin,
		"POST /api/nodes/{id}/rotate-secret": admin,
		"GET /api/nodes/{id}/traffic":        viewer,
		"GET /api/nodes/{id}/peers":          viewer,
		"POST /api/nodes/{id}/peers":         operator,
		"GET /api/peers":                     viewer,
		"POST /api/peers":                    operator,
		"POST /api/peers/bulk":               operator,
		"POST /api/peers/bulk-action":        operator,
		"GET /api/peers/{id}":                viewer,
		"PUT /api/peers/{id}":                operator,
		"DELETE /api/peers/{id}":             operator,
		"POST /api/peers/{id}/restrict":      operator,
		"POST /api/peers/{id}/allow":         operator,
		"GET /api/peers/{id}/config":         operator,
		"GET /api/peers/{id}/qr":             operator,
		"POST /api/peers/{id}/move":          operator,
		"POST /api/peers/{id}/share":         operator,
		"GET /api/peers/{id}/shares":         operator,
		"DELETE /api/shares/{id}":            operator,
		"POST /api/peers/{id}/reset-usage":   operator,
		"GET /api/peers/{id}/traffic":        viewer,
		"GET /api/traffic/nodes":             viewer,
		"GET /api/webhooks":                  admin,
		"POST /api/webhooks":                 admin,
		"GET /api/webhooks/events":           admin,
		"DELETE /api/webhooks/{id}":          admin,
		"POST /api/webhooks/{id}/test":       admin,
		"GET /api/webhooks/{id}/deliveries":  admin,
		"GET /metrics":                       viewer,
	}
}

// TestEveryRouteHasARole walks the router: every route must be declared
// open or with a least role (a route added any other way fails here), an
// anonymous caller gets 401 from every authed route, and each role, as a
// session and as an API token, gets 403 exactly where its role is below
// the route's.
func TestEveryRouteHasARole(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("# metrics\n")) })
	s := newServer(Config{
		Fleet: e.fleet, Auth: e.auth, Reconciler: e.rec, Metrics: metrics,
		Webhooks: webhook.New(webhook.Config{Store: e.st}),
	})
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)

	var callers []routeCaller
	for _, role := range auth.Roles() {
		u, err := e.auth.CreateUser(ctx, "system", "routes-"+string(role), adminPassword, role)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		callers = append(callers, routeCaller{name: string(role) + " session", role: role, headers: func(t *testing.T) map[string]string {
			n++
			tok, csrf := fmt.Sprintf("session-%s-%d", role, n), fmt.Sprintf("csrf-%s-%d", role, n)
			_, err := e.st.CreateSession(ctx, store.Session{TokenHash: store.HashToken(tok), UserID: u.ID, CSRFToken: csrf, ExpiresAt: e.clock.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			return map[string]string{"Cookie": auth.SessionCookieName + "=" + tok, "X-CSRF-Token": csrf}
		}})
		plain, _, err := e.auth.CreateTokenWithRole(ctx, "system", "routes-"+string(role), 0, role)
		if err != nil {
			t.Fatal(err)
		}
		callers = append(callers, routeCaller{name: string(role) + " token", role: role, headers: func(*testing.T) map[string]string {
			return map[string]string{"Authorization": "Bearer " + plain}
		}})
	}

	send := func(t *testing.T, method, path string, headers map[string]string) (int, string) {
		t.Helper()
		var body *strings.Reader
		if method != http.MethodGet && method != http.MethodHead {
			body = strings.NewReader("{}")
		} else {
			body = strings.NewReader("")
		}
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if body.Len() > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var msg strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := res.Body.Read(buf)
			msg.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return res.StatusCode, msg.String()
	}

	want := wantAccess()
	routes := 0
	seen := map[string]bool{}
	err := s.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no methods", tpl)
			return nil
		}
		path := strings.ReplaceAll(tpl, "{id}", "999999")
		if strings.Contains(path, "{") {
			t.Errorf("route %s: a path variable this test does not fill", tpl)
			return nil
		}
		for _, m := range methods {
			key := m + " " + tpl
			seen[key] = true
			routes++
			acc, ok := s.access[key]
			if !ok || !acc.open && !acc.role.Valid() {
				t.Errorf("%s: no role declared (use authed(role, ...) or open(...) in routes)", key)
				continue
			}
			declared := acc.role
			if acc.open {
				declared = ""
			}
			if w, ok := want[key]; !ok {
				t.Errorf("%s: not in wantAccess (the roles matrix): add it there and to docs/SECURITY.md", key)
			} else if declared != w {
				t.Errorf("%s: declared role %q, the matrix says %q", key, declared, w)
			}
			t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
				status, body := send(t, m, path, nil)
				if acc.open {
					// No credentials asked: whatever it answers, it is not a
					// refusal for want of a role.
					if strings.Contains(body, roleRefusal) {
						t.Errorf("open route refused a role: %d %s", status, body)
					}
					return
				}
				if status != http.StatusUnauthorized {
					t.Errorf("anonymous caller got %d, want 401: %s", status, body)
				}
				for _, c := range callers {
					status, body := send(t, m, path, c.headers(t))
					refused := status == http.StatusForbidden && strings.Contains(body, roleRefusal)
					switch {
					case status == http.StatusUnauthorized:
						t.Errorf("%s: 401: %s", c.name, body)
					case c.role.AtLeast(acc.role) && refused:
						t.Errorf("%s (route needs %s): refused: %s", c.name, acc.role, body)
					case !c.role.AtLeast(acc.role) && !refused:
						t.Errorf("%s (route needs %s): got %d, want 403 for the role: %s", c.name, acc.role, status, body)
					}
				}
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("%s is in the matrix but the router has no such route", key)
		}
	}
	for key := range s.access {
		if !seen[key] {
			t.Errorf("%s is declared but the router has no such route", key)
		}
	}
	if routes == 0 {
		t.Error("walked no route")
	}
}
