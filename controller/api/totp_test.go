package api

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

type totpEnrollment struct {
	URL    string `json:"otpauth_url"`
	Secret string `json:"secret"`
	QRPNG  []byte `json:"qr_png"`
}

// code is the TOTP code of secret at the env's clock plus d.
func (e *env) code(t testing.TB, secret string, d time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, e.clock.Now().Add(d))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP enrols c's user with a code at the env's clock and returns
// the secret and the recovery codes.
func enrolTOTP(t testing.TB, e *env, c *client) (string, []string) {
	t.Helper()
	var en totpEnrollment
	c.do(t, "POST", "/api/me/totp", nil).want(t, 201).decode(t, &en)
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.do(t, "POST", "/api/me/totp/confirm", map[string]string{"code": e.code(t, en.Secret, 0)}).want(t, 200).decode(t, &out)
	return en.Secret, out.RecoveryCodes
}

// login signs in with an optional code and answers the response.
func (e *env) tryLogin(t testing.TB, username, password, code string) resp {
	t.Helper()
	body := map[string]string{"username": username, "password": password}
	if code != "" {
		body["totp_code"] = code
	}
	return e.anon().do(t, "POST", "/api/login", body)
}

func totpRequired(r resp) bool {
	var d struct {
		Required bool `json:"totp_required"`
	}
	_ = json.Unmarshal(r.env.Data, &d)
	return r.status == 401 && d.Required
}

// TestTOTPEnrolAndLogin: with real codes computed from the secret at the
// controller's clock: an enrolment gives a scannable QR code of the
// otpauth URL and needs a right code to take effect; then a login needs
// a code (missing or wrong: 401 asking for it), each code works once and
// only near its time, each recovery code works once; the user turns it
// off with a code; no secret reaches a log.
func TestTOTPEnrolAndLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)

	// No enrolment waits for a code yet, and there is nothing to turn off.
	c.do(t, "POST", "/api/me/totp/confirm", map[string]string{"code": "000000"}).want(t, 409)
	c.do(t, "POST", "/api/me/totp/disable", map[string]string{"code": "000000"}).want(t, 409)

	var en totpEnrollment
	c.do(t, "POST", "/api/me/totp", nil).want(t, 201).decode(t, &en)
	if !strings.HasPrefix(en.URL, "otpauth://totp/wgfleet:admin?") || !strings.Contains(en.URL, "secret="+en.Secret) || len(en.Secret) < 32 {
		t.Fatalf("enrolment %+v", en)
	}
	if zbar, err := exec.LookPath("zbarimg"); err == nil {
		file := filepath.Join(t.TempDir(), "totp.png")
		if err := os.WriteFile(file, en.QRPNG, 0o600); err != nil {
			t.Fatal(err)
		}
		scanned, err := exec.Command(zbar, "--quiet", "--raw", file).Output()
		if err != nil || strings.TrimSpace(string(scanned)) != en.URL {
			t.Fatalf("the QR code reads %q (%v), want the otpauth URL", scanned, err)
		}
	} else {
		testenv.RequireCommand(t, "zbarimg", "zbar-tools")
	}
	// Not on until confirmed.
	e.tryLogin(t, "admin", adminPassword, "").want(t, 200)
	r := c.do(t, "POST", "/api/me/totp/confirm", map[string]string{"code": e.code(t, en.Secret, -5*time.Minute)})
	if r.status != 400 || r.field() != "code" {
		t.Fatalf("confirm with an old code: %d %q %s", r.status, r.field(), r.body)
	}
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.do(t, "POST", "/api/me/totp/confirm", map[string]string{"code": e.code(t, en.Secret, 0)}).want(t, 200).decode(t, &out)
	if len(out.RecoveryCodes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(out.RecoveryCodes))
	}
	seen := map[string]bool{}
	for _, rc := range out.RecoveryCodes {
		if len(rc) != 19 || seen[rc] {
			t.Fatalf("recovery codes %q: want 10 distinct xxxx-xxxx-xxxx-xxxx", out.RecoveryCodes)
		}
		seen[rc] = true
	}
	var me struct {
		TOTPEnabled bool `json:"totp_enabled"`
	}
	c.do(t, "GET", "/api/me", nil).want(t, 200).decode(t, &me)
	if !me.TOTPEnabled {
		t.Error("GET /api/me: totp_enabled false after confirming")
	}
	c.do(t, "POST", "/api/me/totp", nil).want(t, 409)

	if r := e.tryLogin(t, "admin", adminPassword, ""); !totpRequired(r) || !strings.Contains(r.msg(), "code") {
		t.Fatalf("login without a code: %d %s", r.status, r.body)
	}
	if r := e.tryLogin(t, "admin", "wrong password", ""); r.status != 401 || totpRequired(r) {
		t.Fatalf("a wrong password must not ask for a code: %d %s", r.status, r.body)
	}
	if r := e.tryLogin(t, "admin", "wrong password", e.code(t, en.Secret, 0)); r.status != 401 || totpRequired(r) {
		t.Fatalf("a wrong password with a right code: %d %s", r.status, r.body)
	}
	// The code that confirmed is used up; so is a code of its period.
	if r := e.tryLogin(t, "admin", adminPassword, e.code(t, en.Secret, 0)); !totpRequired(r) {
		t.Fatalf("a used code: %d %s", r.status, r.body)
	}
	e.clock.Advance(30 * time.Second)
	now := e.code(t, en.Secret, 0)
	e.tryLogin(t, "admin", adminPassword, now).want(t, 200)
	if r := e.tryLogin(t, "admin", adminPassword, now); !totpRequired(r) {
		t.Fatalf("the same code twice: %d %s", r.status, r.body)
	}
	// One period late is accepted (clock skew), three are not.
	e.clock.Advance(60 * time.Second)
	if r := e.tryLogin(t, "admin", adminPassword, e.code(t, en.Secret, -90*time.Second)); !totpRequired(r) {
		t.Fatalf("a code three periods old: %d %s", r.status, r.body)
	}
	e.tryLogin(t, "admin", adminPassword, e.code(t, en.Secret, -30*time.Second)).want(t, 200)

	// Recovery codes: once each, written any way.
	e.tryLogin(t, "admin", adminPassword, strings.ToUpper(out.RecoveryCodes[0])).want(t, 200)
	if r := e.tryLogin(t, "admin", adminPassword, out.RecoveryCodes[0]); !totpRequired(r) {
		t.Fatalf("a recovery code twice: %d %s", r.status, r.body)
	}
	e.tryLogin(t, "admin", adminPassword, strings.ReplaceAll(out.RecoveryCodes[1], "-", " ")).want(t, 200)

	// Turning it off takes a right code; then a login needs none.
	e.clock.Advance(30 * time.Second)
	s := e.loginAs2(t, "admin", adminPassword, e.code(t, en.Secret, 0))
	r = s.do(t, "POST", "/api/me/totp/disable", map[string]string{"code": "000000"})
	if r.status != 400 || r.field() != "code" {
		t.Fatalf("disable with a wrong code: %d %s", r.status, r.body)
	}
	s.do(t, "POST", "/api/me/totp/disable", map[string]string{"code": out.RecoveryCodes[2]}).want(t, 200)
	e.tryLogin(t, "admin", adminPassword, "").want(t, 200)
	// Off, it cannot be turned off again, nor confirmed with its old code.
	s.do(t, "POST", "/api/me/totp/disable", map[string]string{"code": out.RecoveryCodes[3]}).want(t, 409)
	s.do(t, "POST", "/api/me/totp/confirm", map[string]string{"code": e.code(t, en.Secret, 0)}).want(t, 409)
	if n := countAudit(t, e, "user.totp_enable") + countAudit(t, e, "user.totp_disable"); n != 2 {
		t.Errorf("%d TOTP audit entries, want 2", n)
	}
	logs := e.logs.String()
	for _, want := range []string{"second factor enabled", "wrong second factor code", "second factor disabled"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the log lacks %q; the search for secrets in it would prove little:\n%s", want, logs)
		}
	}
	for _, secret := range append([]string{en.Secret, adminPassword}, out.RecoveryCodes...) {
		if strings.Contains(logs, secret) {
			t.Errorf("a log line holds %q", secret)
		}
	}
	tok := e.tokenClient(t, "Authorization")
	tok.do(t, "POST", "/api/me/totp", nil).want(t, 403)
}

// TestTOTPCodesRateLimited: wrong codes after the right password count
// like wrong passwords: the sixth attempt is 429, even with a right code.
func TestTOTPCodesRateLimited(t *testing.T) {
	e := newEnv(t, envOptions{})
	secret, _ := enrolTOTP(t, e, e.login(t))
	for i := range 5 {
		if r := e.tryLogin(t, "admin", adminPassword, "123456"); !totpRequired(r) {
			t.Fatalf("wrong code %d: %d %s", i, r.status, r.body)
		}
	}
	e.clock.Advance(30 * time.Second)
	e.tryLogin(t, "admin", adminPassword, e.code(t, secret, 0)).want(t, 429)
	// Without a code nothing is counted, and nothing gets through either.
	e.clock.Advance(16 * time.Minute)
	for range 8 {
		if r := e.tryLogin(t, "admin", adminPassword, ""); !totpRequired(r) {
			t.Fatalf("login without a code: %d %s", r.status, r.body)
		}
	}
	e.tryLogin(t, "admin", adminPassword, e.code(t, secret, 0)).want(t, 200)
}

// TestAdminResetsTOTP: an admin turns off a user's second factor without
// a code; the user's sessions end and a login needs no code again.
func TestAdminResetsTOTP(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.login(t)
	u := createUserAPI(t, admin, "olga", "operator")
	olga := e.loginAs(t, "olga", "olga password 123")
	enrolTOTP(t, e, olga)
	var users []userJSON
	admin.do(t, "GET", "/api/users", nil).want(t, 200).decode(t, &users)
	if len(users) != 2 || !users[1].TOTPEnabled {
		t.Fatalf("GET /api/users = %+v, want olga with totp_enabled", users)
	}
	olga.do(t, "DELETE", "/api/users/1/totp", nil).want(t, 403)
	admin.do(t, "DELETE", "/api/users/1/totp", nil).want(t, 409)
	admin.do(t, "DELETE", "/api/users/"+itoa(u.ID)+"/totp", nil).want(t, 200)
	olga.do(t, "GET", "/api/me", nil).want(t, 401)
	e.tryLogin(t, "olga", "olga password 123", "").want(t, 200)
	if countAudit(t, e, "user.totp_disable") != 1 {
		t.Error("no audit entry for the reset")
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func countAudit(t testing.TB, e *env, action string) int {
	t.Helper()
	entries, err := e.st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range entries {
		if en.Action == action {
			n++
		}
	}
	return n
}

// loginAs2 signs in with a second factor code.
func (e *env) loginAs2(t testing.TB, username, password, code string) *client {
	t.Helper()
	c := e.anon()
	r := c.do(t, "POST", "/api/login", map[string]string{"username": username, "password": password, "totp_code": code}).want(t, 200)
	var info struct {
		CSRFToken string `json:"csrf_token"`
	}
	r.decode(t, &info)
	c.headers["X-CSRF-Token"] = info.CSRFToken
	return c
}
