package store

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)

	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers on a fresh store = %d, %v", n, err)
	}
	u, err := s.CreateUser(ctx, " alice ", "$argon2id$v=19$hash")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Username != "alice" || !u.CreatedAt.Equal(testEpoch) {
		t.Fatalf("CreateUser = %+v", u)
	}
	if _, err := s.CreateUser(ctx, "Alice", "other"); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate username (other case) = %v", err)
	}
	if _, err := s.CreateUser(ctx, "", "h"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty username = %v", err)
	}
	if _, err := s.CreateUser(ctx, "bob", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty hash = %v", err)
	}
	got, err := s.GetUserByUsername(ctx, "ALICE")
	if err != nil || got != u {
		t.Fatalf("GetUserByUsername = %+v, %v; want %+v", got, err, u)
	}
	if got, err := s.GetUser(ctx, u.ID); err != nil || got != u {
		t.Fatalf("GetUser = %+v, %v", got, err)
	}
	if _, err := s.GetUserByUsername(ctx, "mallory"); !errors.Is(err, ErrUserNotFound) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing user = %v", err)
	}
	if n, _ := s.CountUsers(ctx); n != 1 {
		t.Fatalf("CountUsers = %d", n)
	}

	if _, err := s.CreateSession(ctx, Session{TokenHash: HashToken("t"), UserID: u.ID, CSRFToken: "c", ExpiresAt: testEpoch.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, u.ID, "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetUser(ctx, u.ID); got.PasswordHash != "$argon2id$new" {
		t.Fatalf("password hash = %q", got.PasswordHash)
	}
	if _, err := s.GetSession(ctx, HashToken("t")); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("session survived a password change: %v", err)
	}
	if err := s.SetPasswordHash(ctx, 999, "x"); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("SetPasswordHash on missing user = %v", err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)
	u, err := s.CreateUser(ctx, "alice", "h")
	if err != nil {
		t.Fatal(err)
	}
	short := Session{TokenHash: HashToken("short"), UserID: u.ID, CSRFToken: "csrf-1", ExpiresAt: testEpoch.Add(time.Minute)}
	long := Session{TokenHash: HashToken("long"), UserID: u.ID, CSRFToken: "csrf-2", ExpiresAt: testEpoch.Add(time.Hour)}
	for _, sess := range []Session{short, long} {
		got, err := s.CreateSession(ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(testEpoch) {
			t.Fatalf("CreatedAt = %v", got.CreatedAt)
		}
	}
	if _, err := s.CreateSession(ctx, short); !errors.Is(err, ErrConflict) {
		t.Fatalf("reused token hash = %v", err)
	}
	if _, err := s.CreateSession(ctx, Session{TokenHash: HashToken("x"), UserID: 999, CSRFToken: "c", ExpiresAt: testEpoch.Add(time.Hour)}); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("session for missing user = %v", err)
	}
	if _, err := s.CreateSession(ctx, Session{UserID: u.ID, CSRFToken: "c", ExpiresAt: testEpoch}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("session without token hash = %v", err)
	}

	got, err := s.GetSession(ctx, HashToken("short"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "GetSession UserID", got.UserID, u.ID)
	testenv.Equal(t, "GetSession CSRFToken", got.CSRFToken, "csrf-1")
	testenv.Equal(t, "GetSession ExpiresAt.Equal(created)", got.ExpiresAt.Equal(short.ExpiresAt), true)
	testenv.Equal(t, "GetSession TokenHash", got.TokenHash, short.TokenHash)
	if t.Failed() {
		t.FailNow()
	}

	clk.Advance(time.Minute) // short expires exactly now
	if _, err := s.GetSession(ctx, HashToken("short")); !errors.Is(err, ErrSessionNotFound) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session = %v", err)
	}
	if n, err := s.DeleteExpiredSessions(ctx); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v", n, err)
	}
	if _, err := s.GetSession(ctx, HashToken("long")); err != nil {
		t.Fatalf("unexpired session: %v", err)
	}
	if err := s.DeleteSession(ctx, HashToken("long")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, HashToken("long")); err != nil {
		t.Fatalf("deleting a deleted session: %v", err)
	}
	if _, err := s.GetSession(ctx, HashToken("long")); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("deleted session = %v", err)
	}
}

func TestAPITokens(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)

	h1, h2 := HashToken("wgf_one"), HashToken("wgf_two")
	t1, err := s.CreateAPIToken(ctx, "ci", h1, "wgf_one", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	t2, err := s.CreateAPIToken(ctx, "backup", h2, "wgf_two", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAPIToken(ctx, "dup", h1, "wgf_one", time.Time{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate hash = %v", err)
	}
	if _, err := s.CreateAPIToken(ctx, "", HashToken("z"), "", time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unnamed token = %v", err)
	}

	got, err := s.LookupAPIToken(ctx, h1)
	if err != nil {
		t.Fatalf("LookupAPIToken: %v", err)
	}
	testenv.Equal(t, "LookupAPIToken ID", got.ID, t1.ID)
	testenv.Equal(t, "LookupAPIToken Name", got.Name, "ci")
	testenv.Equal(t, "LookupAPIToken Prefix", got.Prefix, "wgf_one")
	testenv.Equal(t, "LookupAPIToken LastUsedAt.IsZero()", got.LastUsedAt.IsZero(), true)
	if t.Failed() {
		t.FailNow()
	}
	if _, err := s.LookupAPIToken(ctx, HashToken("unknown")); !errors.Is(err, ErrAPITokenNotFound) {
		t.Fatalf("unknown token = %v", err)
	}

	// Touch writes at most once a minute.
	touches := []struct {
		advance time.Duration
		want    time.Duration // LastUsedAt after testEpoch
	}{
		{0, 0},
		{30 * time.Second, 0},
		{30 * time.Second, time.Minute},
		{time.Second, time.Minute},
	}
	for i, tc := range touches {
		clk.Advance(tc.advance)
		if err := s.TouchAPIToken(ctx, t1.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := s.LookupAPIToken(ctx, h1)
		if !got.LastUsedAt.Equal(testEpoch.Add(tc.want)) {
			t.Fatalf("touch %d: LastUsedAt = %v, want +%v", i, got.LastUsedAt, tc.want)
		}
	}

	revokedAt := clk.Now()
	if err := s.RevokeAPIToken(ctx, t2.ID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := s.RevokeAPIToken(ctx, t2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupAPIToken(ctx, h2); !errors.Is(err, ErrAPITokenNotFound) {
		t.Fatalf("revoked token = %v", err)
	}
	if err := s.RevokeAPIToken(ctx, 999); !errors.Is(err, ErrAPITokenNotFound) {
		t.Fatalf("revoke missing = %v", err)
	}
	list, err := s.ListAPITokens(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListAPITokens = %+v, %v", list, err)
	}
	if !list[0].RevokedAt.IsZero() || !list[1].RevokedAt.Equal(revokedAt) {
		t.Fatalf("revocation times %v %v; want zero, %v (the first revocation)", list[0].RevokedAt, list[1].RevokedAt, revokedAt)
	}
}

// A token's expiry is stored in whole seconds and read back; zero means
// never.
func TestAPITokenExpiry(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)
	exp := clk.Now().Add(720*time.Hour + 500*time.Millisecond)
	tok, err := s.CreateAPIToken(ctx, "expiring", HashToken("wgf_exp"), "wgf_exp", exp)
	if err != nil {
		t.Fatal(err)
	}
	if want := exp.Truncate(time.Second); !tok.ExpiresAt.Equal(want) {
		t.Errorf("created ExpiresAt %v, want %v", tok.ExpiresAt, want)
	}
	got, err := s.LookupAPIToken(ctx, HashToken("wgf_exp"))
	if err != nil || !got.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Errorf("LookupAPIToken = %+v, %v; want ExpiresAt %v", got, err, tok.ExpiresAt)
	}
	never, err := s.CreateAPIToken(ctx, "forever", HashToken("wgf_never"), "wgf_nev", time.Time{})
	if err != nil || !never.ExpiresAt.IsZero() {
		t.Fatalf("token without expiry: %+v, %v", never, err)
	}
	list, err := s.ListAPITokens(ctx)
	if err != nil || len(list) != 2 || !list[0].ExpiresAt.Equal(tok.ExpiresAt) || !list[1].ExpiresAt.IsZero() {
		t.Errorf("ListAPITokens = %+v, %v", list, err)
	}
}

func TestHashToken(t *testing.T) {
	a1, a2, b := HashToken("a"), HashToken("a"), HashToken("b")
	if a1 != a2 || a1 == b {
		t.Fatal("HashToken is not a function of its input")
	}
	// SHA-256("a"), so other tools can compute the same hash.
	if got := hex.EncodeToString(a1[:]); got != "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb" {
		t.Fatalf("HashToken(a) = %s", got)
	}
}
