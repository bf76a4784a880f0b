package controller_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/store"
)

// startWithAdminPassword starts a controller over dir (real SQLite) with
// the given admin password, as `wg-controller serve` does; logs go to buf.
func startWithAdminPassword(t *testing.T, dir, password string, buf *bytes.Buffer) *controller.Controller {
	t.Helper()
	c, err := controller.New(context.Background(), controller.Config{
		Listen: "127.0.0.1:0", DataDir: dir, PollInterval: time.Minute, AdminPassword: password,
		Logger: slog.New(slog.NewTextHandler(buf, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// passwordAudits returns the "user.password" audit entries.
func passwordAudits(t *testing.T, st *store.Store) []store.AuditEntry {
	t.Helper()
	all, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, e := range all {
		if e.Action == "user.password" {
			out = append(out, e)
		}
	}
	return out
}

func TestAdminPasswordFromEnvironmentAppliedOnRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const oldPassword, newPassword = "the first admin password", "the second admin password"

	var logs bytes.Buffer
	c := startWithAdminPassword(t, dir, oldPassword, &logs)
	sess, err := c.Auth().Login(ctx, auth.AdminUsername, oldPassword, "127.0.0.1:1")
	if err != nil {
		t.Fatalf("login with the first password: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart with the same password: nothing changes.
	logs.Reset()
	c = startWithAdminPassword(t, dir, oldPassword, &logs)
	if got := passwordAudits(t, c.Store()); len(got) != 0 {
		t.Errorf("restart with the same password wrote %d user.password audit entries", len(got))
	}
	if strings.Contains(logs.String(), "admin password") {
		t.Errorf("restart with the same password logged: %s", logs.String())
	}
	if _, err := c.Auth().Authenticate(sessionRequest(sess.Token)); err != nil {
		t.Errorf("restart with the same password ended the session: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart with a new password: it is applied.
	logs.Reset()
	c = startWithAdminPassword(t, dir, newPassword, &logs)
	if _, err := c.Auth().Login(ctx, auth.AdminUsername, newPassword, "127.0.0.1:2"); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	if _, err := c.Auth().Login(ctx, auth.AdminUsername, oldPassword, "127.0.0.1:3"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("login with the old password: err = %v, want ErrBadCredentials", err)
	}
	if _, err := c.Auth().Authenticate(sessionRequest(sess.Token)); err == nil {
		t.Error("the session made with the old password still works")
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "changed the admin password from the environment") {
		t.Errorf("no WARN about the changed admin password in the logs: %s", logs.String())
	}
	got := passwordAudits(t, c.Store())
	if len(got) != 1 {
		t.Fatalf("user.password audit entries = %d, want 1", len(got))
	}
	if got[0].Actor != "system" || got[0].TargetType != "user" {
		t.Errorf("audit entry = %+v, want actor system, target user", got[0])
	}
	if d := string(got[0].Details); strings.Contains(d, newPassword) || strings.Contains(d, oldPassword) {
		t.Errorf("audit details hold a password: %s", d)
	}
	if strings.Contains(logs.String(), newPassword) {
		t.Error("the new password is in the logs")
	}
}

// sessionRequest is a request carrying the session cookie token.
func sessionRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.AddCookie(&http.Cookie{Name: auth.SessionCookieName, Value: token})
	return r
}
