package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestAPITokens(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()

	plain, tok, err := h.auth.CreateToken(ctx, "user:alice", "  ci  ", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, TokenPrefix) || len(plain) != len(TokenPrefix)+43 {
		t.Errorf("token %q: want %q and 43 base64url characters", plain[:8], TokenPrefix)
	}
	if tok.Name != "ci" || tok.Prefix != plain[:12] || tok.Hash != store.HashToken(plain) {
		t.Errorf("stored token %+v: want name ci, the first 12 characters and the hash", tok)
	}
	plain2, _, err := h.auth.CreateToken(ctx, "user:alice", "ci", 0)
	if err != nil || plain2 == plain {
		t.Fatalf("second token: %v (equal to first: %v)", err, plain2 == plain)
	}

	for _, hdr := range [][]string{
		{"Authorization", "Bearer " + plain},
		{"Authorization", "bearer " + plain},
		{APIKeyHeader, plain},
	} {
		p, err := h.auth.Authenticate(request("", hdr...))
		if err != nil {
			t.Fatalf("%s: %v", hdr[0], err)
		}
		testenv.Equal(t, hdr[0]+": principal Kind", p.Kind, KindToken)
		testenv.Equal(t, hdr[0]+": principal Name", p.Name, "ci")
		testenv.Equal(t, hdr[0]+": principal ViaCookie", p.ViaCookie, false)
		testenv.Equal(t, hdr[0]+": principal CSRFToken", p.CSRFToken, "")
		testenv.Equal(t, hdr[0]+": principal Actor()", p.Actor(), "token:ci")
	}

	// Use was recorded; the list holds no hashes.
	list, err := h.auth.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].LastUsedAt.IsZero() || !list[1].LastUsedAt.IsZero() {
		t.Errorf("list %+v: want 2 tokens, the first used, the second not", list)
	}
	for _, l := range list {
		if l.Hash != (store.TokenHash{}) {
			t.Errorf("token %d listed with its hash", l.ID)
		}
	}

	if err := h.auth.RevokeToken(ctx, "user:alice", tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = h.auth.Authenticate(request("", "Authorization", "Bearer "+plain))
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked token: err = %v, want ErrUnauthenticated", err)
	}
	if _, err := h.auth.Authenticate(request("", APIKeyHeader, plain2)); err != nil {
		t.Errorf("the other token stopped working: %v", err)
	}
	if err := h.auth.RevokeToken(ctx, "user:alice", 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking unknown token: err = %v, want ErrNotFound", err)
	}

	audit, err := h.st.ListAudit(ctx, store.AuditFilter{TargetType: "token"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Actor+" "+e.Action)
		if strings.Contains(string(e.Details), plain) {
			t.Error("audit entry holds the token")
		}
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, "user:alice token.create") || !strings.Contains(got, "user:alice token.revoke") {
		t.Errorf("audit = %s", got)
	}
}

func TestCreateTokenBadName(t *testing.T) {
	h := newHarness(t, Config{})
	for _, name := range []string{"", "   ", strings.Repeat("n", 65), "tab\tname"} {
		if _, _, err := h.auth.CreateToken(context.Background(), "system", name, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateToken(%q): err = %v, want ErrInvalid", name, err)
		}
	}
	if list, err := h.auth.ListTokens(context.Background()); err != nil || len(list) != 0 {
		t.Errorf("refused names left %d tokens (%v)", len(list), err)
	}
}

// A token header wins over a session cookie: a bad token is refused even
// beside a good session.
func TestTokenHeaderBeforeCookie(t *testing.T) {
	h := newHarness(t, Config{})
	sess, err := h.auth.Login(context.Background(), "alice", testPassword, "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.auth.Authenticate(request(sess.Token, "Authorization", "Bearer wgf_bad")); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("err = %v, want ErrUnauthenticated", err)
	}
}

func TestTokenTouchIsThrottled(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	plain, tok, err := h.auth.CreateToken(ctx, "system", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.auth.Authenticate(request("", APIKeyHeader, plain)); err != nil {
		t.Fatal(err)
	}
	first := h.auth.touched[tok.ID]
	h.clock.Advance(30 * time.Second)
	if _, err := h.auth.Authenticate(request("", APIKeyHeader, plain)); err != nil {
		t.Fatal(err)
	}
	if got := h.auth.touched[tok.ID]; !got.Equal(first) {
		t.Errorf("touched again after 30s: %v, then %v", first, got)
	}
	h.clock.Advance(31 * time.Second)
	if _, err := h.auth.Authenticate(request("", APIKeyHeader, plain)); err != nil {
		t.Fatal(err)
	}
	if got := h.auth.touched[tok.ID]; !got.After(first) {
		t.Errorf("not touched after 61s")
	}
}

// A token made with a lifetime authenticates until then and is refused
// from then on, saying it expired; a token without one never expires.
func TestTokenExpiry(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	plain, tok, err := h.auth.CreateToken(ctx, "user:alice", "short", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := h.clock.Now().Add(time.Hour).Truncate(time.Second); !tok.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt %v, want %v", tok.ExpiresAt, want)
	}
	forever, _, err := h.auth.CreateToken(ctx, "user:alice", "forever", 0)
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(59 * time.Minute)
	if _, err := h.auth.Authenticate(request("", APIKeyHeader, plain)); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	h.clock.Advance(time.Minute)
	_, err = h.auth.Authenticate(request("", APIKeyHeader, plain))
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("at expiry: err = %v, want ErrUnauthenticated saying expired", err)
	}
	h.clock.Advance(100 * 365 * 24 * time.Hour)
	if _, err := h.auth.Authenticate(request("", APIKeyHeader, forever)); err != nil {
		t.Errorf("token without expiry, a century later: %v", err)
	}
	list, err := h.auth.ListTokens(ctx)
	if err != nil || len(list) != 2 || !list[0].ExpiresAt.Equal(tok.ExpiresAt) || !list[1].ExpiresAt.IsZero() {
		t.Errorf("ListTokens = %+v, %v; want the expiry listed", list, err)
	}
}

func TestCreateTokenBadLifetime(t *testing.T) {
	h := newHarness(t, Config{})
	for _, ttl := range []time.Duration{-time.Hour, time.Second, MaxTokenTTL + time.Hour} {
		if _, _, err := h.auth.CreateToken(context.Background(), "system", "ci", ttl); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateToken(ttl %v): err = %v, want ErrInvalid", ttl, err)
		}
	}
	if list, err := h.auth.ListTokens(context.Background()); err != nil || len(list) != 0 {
		t.Errorf("refused lifetimes left %d tokens (%v)", len(list), err)
	}
}

// Only a person with a session may create tokens; an API token may not,
// so that nothing a token made outlives its revocation.
func TestMayCreateTokens(t *testing.T) {
	if err := (Principal{Kind: KindUser, Name: "alice", ViaCookie: true}).MayCreateTokens(); err != nil {
		t.Errorf("user: %v", err)
	}
	if err := (Principal{Kind: KindToken, Name: "ci"}).MayCreateTokens(); !errors.Is(err, ErrForbidden) {
		t.Errorf("token: err = %v, want ErrForbidden", err)
	}
	if err := (Principal{}).MayCreateTokens(); !errors.Is(err, ErrForbidden) {
		t.Errorf("nobody: err = %v, want ErrForbidden", err)
	}
}
