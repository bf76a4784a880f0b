package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"
)

// usersRolesMigration is the version that added roles to users and API
// tokens, TOTP secrets and recovery codes.
const usersRolesMigration = 18

// usersRolesFixture: rows written at 0018 survive, and users and tokens
// from before it (v1-user, v1-token) are admins.
func usersRolesFixture() migrationFixture {
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			secret, err := box.Seal([]byte("v18-totp-secret"), userTOTPAAD(18))
			if err != nil {
				t.Fatal(err)
			}
			execAll(t, db,
				`INSERT INTO users (id, username, password_hash, role, totp_secret_enc, totp_enabled, totp_last_step, created_at)
				 VALUES (18, 'v18-user', 'hash', 'operator', '`+secret+`', 1, 7, 1)`,
				`INSERT INTO api_tokens (name, token_hash, prefix, created_at, role, user_id) VALUES ('v18-token', randomblob(32), 'x', 1, 'viewer', 18)`,
				`INSERT INTO recovery_codes (user_id, code_hash) VALUES (18, randomblob(32))`,
			)
			if _, err := db.Exec(`UPDATE users SET role = 'root' WHERE id = 18`); err == nil {
				t.Fatal("role 'root' accepted")
			}
		},
		check: func(t *testing.T, s *Store) {
			ctx := context.Background()
			u, err := s.GetUserByUsername(ctx, "v18-user")
			if err != nil {
				t.Fatal(err)
			}
			totp, err := s.GetTOTP(ctx, u.ID)
			if err != nil || u.Role != "operator" || !u.TOTPEnabled || string(totp.Secret) != "v18-totp-secret" || totp.LastStep != 7 {
				t.Fatalf("v18 user after migration: %+v, TOTP %q step %d, %v", u, totp.Secret, totp.LastStep, err)
			}
			toks, err := s.ListAPITokens(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range toks {
				switch {
				case tok.Name == "v18-token" && (tok.Role != "viewer" || tok.UserID != 18):
					t.Errorf("v18 token after migration: %+v", tok)
				case tok.Name == "v1-token" && (tok.Role != "admin" || tok.UserID != 0):
					t.Errorf("a token from before roles: %+v, want an admin token of nobody", tok)
				}
			}
			if v1, err := s.GetUserByUsername(ctx, "v1-user"); err == nil && v1.Role != "admin" {
				t.Errorf("a user from before roles has role %q, want admin", v1.Role)
			}
		},
	}
}

// TestUserRolesAndTokens: users carry a role, lowering one lowers the
// tokens the user made, deleting a user revokes them and ends the
// sessions, and an old admin token made by nobody is untouched.
func TestUserRolesAndTokens(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)

	admin, err := s.CreateUser(ctx, "admin", "h")
	if err != nil || admin.Role != "admin" {
		t.Fatalf("CreateUser = %+v, %v; want an admin", admin, err)
	}
	op, err := s.CreateUserWithRole(ctx, "olga", "h", "operator")
	if err != nil || op.Role != "operator" {
		t.Fatalf("CreateUserWithRole = %+v, %v", op, err)
	}
	if _, err := s.CreateUserWithRole(ctx, "root", "h", "superuser"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown role = %v, want ErrInvalid", err)
	}
	users, err := s.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0] != admin || users[1] != op {
		t.Fatalf("ListUsers = %+v, %v", users, err)
	}
	if n, err := inTx(ctx, s, func(tx *Tx) (int, error) { return tx.CountAdmins(ctx) }); err != nil || n != 1 {
		t.Fatalf("CountAdmins = %d, %v", n, err)
	}

	mk := func(name, role string, userID int64) APIToken {
		t.Helper()
		tok, err := inTx(ctx, s, func(tx *Tx) (APIToken, error) {
			return tx.CreateAPITokenWith(ctx, APIToken{Name: name, Hash: HashToken(name), Prefix: "p", Role: role, UserID: userID})
		})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	old, err := s.CreateAPIToken(ctx, "old", HashToken("old"), "p", time.Time{})
	if err != nil || old.Role != "admin" || old.UserID != 0 {
		t.Fatalf("CreateAPIToken = %+v, %v; want an admin token of nobody", old, err)
	}
	opTok := mk("op-tok", "operator", op.ID)
	viewTok := mk("view-tok", "viewer", op.ID)
	if got, err := s.LookupAPIToken(ctx, HashToken("op-tok")); err != nil || got.Role != "operator" || got.UserID != op.ID {
		t.Fatalf("LookupAPIToken = %+v, %v", got, err)
	}

	err = s.InTx(ctx, func(tx *Tx) error { return tx.SetUserRole(ctx, op.ID, "viewer", []string{"admin", "operator"}) })
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetUser(ctx, op.ID); got.Role != "viewer" {
		t.Fatalf("role after SetUserRole = %q", got.Role)
	}
	for _, name := range []string{opTok.Name, viewTok.Name} {
		if got, err := s.LookupAPIToken(ctx, HashToken(name)); err != nil || got.Role != "viewer" {
			t.Errorf("token %s after its maker became a viewer: %+v, %v", name, got, err)
		}
	}
	if got, _ := s.LookupAPIToken(ctx, HashToken("old")); got.Role != "admin" {
		t.Errorf("a token of nobody changed: %+v", got)
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetUserRole(ctx, 999, "viewer", nil) }); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("SetUserRole of an unknown user = %v", err)
	}

	if _, err := s.CreateSession(ctx, Session{TokenHash: HashToken("s1"), UserID: op.ID, CSRFToken: "c", ExpiresAt: testEpoch.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.DeleteUser(ctx, op.ID) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, op.ID); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("deleted user still there: %v", err)
	}
	if _, err := s.GetSession(ctx, HashToken("s1")); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("a deleted user's session survived: %v", err)
	}
	if _, err := s.LookupAPIToken(ctx, HashToken("op-tok")); !errors.Is(err, ErrAPITokenNotFound) {
		t.Errorf("a deleted user's token still works: %v", err)
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.DeleteUser(ctx, op.ID) }); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("deleting again = %v", err)
	}
}

// TestPasswordChangeKeepsOneSession: SetPasswordHashKeeping ends every
// session of the user but the one named, and none of another user.
func TestPasswordChangeKeepsOneSession(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	a, _ := s.CreateUser(ctx, "a", "h")
	b, _ := s.CreateUser(ctx, "b", "h")
	for _, sess := range []struct {
		tok string
		id  int64
	}{{"a1", a.ID}, {"a2", a.ID}, {"b1", b.ID}} {
		if _, err := s.CreateSession(ctx, Session{TokenHash: HashToken(sess.tok), UserID: sess.id, CSRFToken: "c", ExpiresAt: testEpoch.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetPasswordHashKeeping(ctx, a.ID, "new", HashToken("a1")) }); err != nil {
		t.Fatal(err)
	}
	for tok, alive := range map[string]bool{"a1": true, "a2": false, "b1": true} {
		_, err := s.GetSession(ctx, HashToken(tok))
		if (err == nil) != alive {
			t.Errorf("session %s: %v, want alive %v", tok, err, alive)
		}
	}
	n, err := inTx(ctx, s, func(tx *Tx) (int64, error) { return tx.DeleteUserSessions(ctx, a.ID, TokenHash{}) })
	if err != nil || n != 1 {
		t.Errorf("DeleteUserSessions = %d, %v; want 1", n, err)
	}
}

// TestTOTPSecretSealedAndCodes: the TOTP secret is stored sealed (not in
// clear) and opens again; a step is accepted once; recovery codes work
// once each and go with a new secret.
func TestTOTPSecretSealedAndCodes(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	u, _ := s.CreateUser(ctx, "alice", "h")
	secret := []byte("0123456789abcdefghij")
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetTOTP(ctx, u.ID, secret) }); err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := rawQueryRow(ctx, s, "SELECT totp_secret_enc FROM users WHERE id = ?", u.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw == "" || raw == string(secret) || !strings.HasPrefix(raw, "v1:") {
		t.Fatalf("stored TOTP secret %q is not sealed", raw)
	}
	got, err := s.GetTOTP(ctx, u.ID)
	if err != nil || string(got.Secret) != string(secret) || got.Enabled {
		t.Fatalf("GetTOTP = %+v, %v", got, err)
	}
	codes := []TokenHash{HashToken("r1"), HashToken("r2")}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.EnableTOTP(ctx, u.ID, codes) }); err != nil {
		t.Fatal(err)
	}
	if u2, _ := s.GetUser(ctx, u.ID); !u2.TOTPEnabled {
		t.Fatal("TOTPEnabled false after EnableTOTP")
	}
	step := func(n int64) bool {
		ok, err := inTx(ctx, s, func(tx *Tx) (bool, error) { return tx.AcceptTOTPStep(ctx, u.ID, n) })
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !step(100) || step(100) || step(99) || !step(101) {
		t.Error("a time step is not accepted exactly once, in order")
	}
	use := func(code string) bool {
		ok, err := inTx(ctx, s, func(tx *Tx) (bool, error) { return tx.UseRecoveryCode(ctx, u.ID, HashToken(code)) })
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !use("r1") || use("r1") || use("nope") {
		t.Error("a recovery code does not work exactly once")
	}
	if n, _ := inTx(ctx, s, func(tx *Tx) (int, error) { return tx.CountRecoveryCodes(ctx, u.ID) }); n != 1 {
		t.Errorf("CountRecoveryCodes = %d, want 1", n)
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetTOTP(ctx, u.ID, nil) }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetTOTP(ctx, u.ID); err != nil || got.Secret != nil || got.Enabled {
		t.Errorf("after removal: %+v (%v)", got, err)
	}
	if use("r2") {
		t.Error("a recovery code outlived its secret")
	}
}
