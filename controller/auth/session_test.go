package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestLogin(t *testing.T) {
	h := newHarness(t, Config{SessionTTL: time.Hour})
	ctx := context.Background()

	sess, err := h.auth.Login(ctx, "Alice", testPassword, "192.0.2.1:1234")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "session Username", sess.Username, "alice")
	if len(sess.Token) < 43 || len(sess.CSRFToken) < 43 {
		t.Errorf("session Token %d and CSRFToken %d characters: want 32-byte tokens (43 or more)", len(sess.Token), len(sess.CSRFToken))
	}
	if sess.Token == sess.CSRFToken {
		t.Error("session Token and CSRFToken are equal: want two distinct tokens")
	}
	if want := h.clock.Now().Add(time.Hour); sess.ExpiresAt.After(want) || sess.ExpiresAt.Before(want.Add(-time.Second)) {
		t.Errorf("expires %v, want about %v", sess.ExpiresAt, want)
	}
	p, err := h.auth.Authenticate(request(sess.Token))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "principal Kind", p.Kind, KindUser)
	testenv.Equal(t, "principal Name", p.Name, "alice")
	testenv.Equal(t, "principal ViaCookie", p.ViaCookie, true)
	testenv.Equal(t, "principal CSRFToken", p.CSRFToken, sess.CSRFToken)
	testenv.Equal(t, "principal Actor()", p.Actor(), "user:alice")

	for _, tc := range []struct{ name, user, password string }{
		{"wrong password", "alice", "wrong password!"},
		{"unknown user", "mallory", testPassword},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.auth.Login(ctx, tc.user, tc.password, "192.0.2.1:1234")
			if !errors.Is(err, ErrBadCredentials) {
				t.Errorf("err = %v, want ErrBadCredentials", err)
			}
		})
	}
}

func TestLoginRateLimited(t *testing.T) {
	h := newHarness(t, Config{MaxLoginFailures: 5, LoginFailureWindow: 15 * time.Minute})
	ctx := context.Background()
	for i := range 5 {
		if _, err := h.auth.Login(ctx, "alice", "wrong", "192.0.2.1:1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
		h.clock.Advance(time.Minute)
	}
	// Now even the right password is refused, with the time to wait.
	_, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.1:2")
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want *RateLimitError", err)
	}
	if rl.RetryAfter != 10*time.Minute {
		t.Errorf("retry after %v, want 10m (the first failure leaves the 15m window then)", rl.RetryAfter)
	}
	// From another address the user may still sign in.
	if _, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.2:1"); err != nil {
		t.Errorf("login from another address: %v", err)
	}
	h.clock.Advance(rl.RetryAfter)
	if _, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.1:3"); err != nil {
		t.Errorf("login after waiting: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t, Config{SessionTTL: 30 * time.Minute})
	ctx := context.Background()
	sess, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(29 * time.Minute)
	if _, err := h.auth.Authenticate(request(sess.Token)); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	h.clock.Advance(time.Minute)
	_, err = h.auth.Authenticate(request(sess.Token))
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("at expiry: err = %v, want ErrUnauthenticated saying expired", err)
	}
	// The expired session was deleted, so it stays gone even if the clock
	// went back.
	h.clock.Advance(-time.Hour)
	if _, err := h.auth.Authenticate(request(sess.Token)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("expired session came back: %v", err)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	s1, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.auth.Logout(ctx, s1.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := h.auth.Authenticate(request(s1.Token)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("logged-out session: err = %v, want ErrUnauthenticated", err)
	}
	if _, err := h.auth.Authenticate(request(s2.Token)); err != nil {
		t.Errorf("the other session ended too: %v", err)
	}
	if err := h.auth.Logout(ctx, s1.Token); err != nil {
		t.Errorf("second logout: %v", err)
	}
}

func TestAuthenticateWithoutCredentials(t *testing.T) {
	h := newHarness(t, Config{})
	for _, tc := range []struct {
		name    string
		cookie  string
		headers []string
		want    string
	}{
		{"nothing", "", nil, "sign in"},
		{"unknown cookie", "bm90LWEtc2Vzc2lvbg", nil, "session"},
		{"basic auth", "", []string{"Authorization", "Basic YWxpY2U6eA=="}, "Bearer"},
		{"empty bearer", "", []string{"Authorization", "Bearer "}, "Bearer"},
		{"unknown token", "", []string{"Authorization", "Bearer wgf_nope"}, "unknown or revoked"},
		{"unknown apikey", "", []string{APIKeyHeader, "wgf_nope"}, "unknown or revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.auth.Authenticate(request(tc.cookie, tc.headers...))
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrUnauthenticated mentioning %q", err, tc.want)
			}
		})
	}
}

func TestCheckCSRF(t *testing.T) {
	cookie := Principal{Kind: KindUser, Name: "alice", ViaCookie: true, CSRFToken: "abc"}
	for _, tc := range []struct {
		name string
		p    Principal
		sent string
		ok   bool
	}{
		{"match", cookie, "abc", true},
		{"missing", cookie, "", false},
		{"wrong", cookie, "abd", false},
		{"prefix", cookie, "ab", false},
		{"token principal needs none", Principal{Kind: KindToken, Name: "ci"}, "", true},
		{"session without csrf token", Principal{Kind: KindUser, ViaCookie: true}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.CheckCSRF(tc.sent)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrCSRF)) {
				t.Errorf("CheckCSRF(%q) = %v, want ok=%v", tc.sent, err, tc.ok)
			}
		})
	}
}

// No log line of a login, a failed login, token use or token creation
// holds a password, session token, CSRF token or API token.
func TestNoSecretsInLogs(t *testing.T) {
	h := newHarness(t, Config{MaxLoginFailures: 2})
	ctx := context.Background()
	sess, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, _ = h.auth.Login(ctx, "alice", "hunter2-wrong-password", "192.0.2.1:1")
	}
	tok, _, err := h.auth.CreateToken(ctx, "user:alice", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.auth.Authenticate(request("", "Authorization", "Bearer "+tok)); err != nil {
		t.Fatal(err)
	}
	h.auth.log.Info("principal", "p", Principal{Kind: KindUser, Name: "alice", ViaCookie: true, CSRFToken: sess.CSRFToken})
	h.auth.log.Info("session", "s", sess)
	logs := h.logs.String()
	if !strings.Contains(logs, "login failed") || !strings.Contains(logs, "login rate limited") {
		t.Fatalf("expected login lines in the log:\n%s", logs)
	}
	for name, secret := range map[string]string{
		"password": testPassword, "wrong password": "hunter2-wrong-password",
		"session token": sess.Token, "csrf token": sess.CSRFToken, "api token": tok,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds the %s:\n%s", name, logs)
		}
	}
}
