package agentapi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

const (
	testJoinSecret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" // bytes 0..31
	testPin        = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

func TestParseJoinToken(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantPin bool
		wantErr string // substring; "" means it parses
	}{
		{"without pin", "wgj1." + testJoinSecret, false, ""},
		{"with pin", "wgj1." + testJoinSecret + "." + testPin, true, ""},
		{"surrounding space", "  wgj1." + testJoinSecret + "\n", false, ""},
		{"empty", "", false, "does not start with"},
		{"api token", "wgf_" + testJoinSecret, false, "does not start with"},
		{"other version", "wgj2." + testJoinSecret, false, "does not start with"},
		{"short secret", "wgj1." + testJoinSecret[:42], false, "42 characters, not 43"},
		{"long secret", "wgj1." + testJoinSecret + "A", false, "44 characters"},
		{"standard base64", "wgj1.+" + testJoinSecret[1:], false, "not base64url"},
		{"non-canonical tail", "wgj1." + testJoinSecret[:42] + "f", false, "not base64url"},
		{"short pin", "wgj1." + testJoinSecret + "." + testPin[:62], false, "64 lowercase hex"},
		{"upper-case pin", "wgj1." + testJoinSecret + "." + strings.ToUpper(testPin), false, "64 lowercase hex"},
		{"not hex pin", "wgj1." + testJoinSecret + "." + strings.Repeat("g", 64), false, "not hex"},
		{"zero pin", "wgj1." + testJoinSecret + "." + strings.Repeat("0", 64), false, "all zero"},
		{"empty pin", "wgj1." + testJoinSecret + ".", false, "64 lowercase hex"},
		{"third part", "wgj1." + testJoinSecret + "." + testPin + ".x", false, "64 lowercase hex"},
		{"too long", "wgj1." + strings.Repeat("A", 300), false, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := agentapi.ParseJoinToken(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, agentapi.ErrBadJoinToken) {
					t.Fatalf("ParseJoinToken = %v, want an ErrBadJoinToken saying %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), testJoinSecret[:10]) {
					t.Fatalf("error %q quotes the token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.Secret != testJoinSecret || tok.HasPin() != tc.wantPin {
				t.Fatalf("got secret %q pin %v, want %q pin %v", tok.Secret, tok.HasPin(), testJoinSecret, tc.wantPin)
			}
			if got, want := tok.String(), strings.TrimSpace(tc.in); got != want {
				t.Fatalf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestNewJoinTokenRoundTrips(t *testing.T) {
	for _, pin := range []agentapi.Fingerprint{{}, agentapi.FingerprintOf([]byte("cert"))} {
		tok, err := agentapi.NewJoinToken(pin)
		if err != nil {
			t.Fatal(err)
		}
		back, err := agentapi.ParseJoinToken(tok.String())
		if err != nil {
			t.Fatalf("ParseJoinToken(%s): %v", tok, err)
		}
		if back != tok {
			t.Fatalf("round trip: got %+v, want %+v", back, tok)
		}
		if d := tok.Display(); !strings.HasPrefix(tok.String(), d) || len(d) != len("wgj1.")+8 {
			t.Fatalf("Display() = %q", d)
		}
	}
	a, _ := agentapi.NewJoinToken(agentapi.Fingerprint{})
	b, _ := agentapi.NewJoinToken(agentapi.Fingerprint{})
	if a.Secret == b.Secret {
		t.Fatal("two new tokens share a secret")
	}
}

// FuzzParseJoinToken: the controller parses tokens anyone sends to
// /api/enroll. An accepted token round-trips; an error wraps
// ErrBadJoinToken and never quotes its input.
func FuzzParseJoinToken(f *testing.F) {
	f.Add("wgj1." + testJoinSecret)
	f.Add("wgj1." + testJoinSecret + "." + testPin)
	f.Add("wgj1.")
	f.Add("wgj1..")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := agentapi.ParseJoinToken(s)
		if err != nil {
			if !errors.Is(err, agentapi.ErrBadJoinToken) {
				t.Fatalf("error %v does not wrap ErrBadJoinToken", err)
			}
			if len(s) >= 16 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q quotes the input", err)
			}
			return
		}
		back, err := agentapi.ParseJoinToken(tok.String())
		if err != nil || back != tok {
			t.Fatalf("%q: String() %q does not round-trip: %+v, %v", s, tok.String(), back, err)
		}
		if tok.String() != strings.TrimSpace(s) {
			t.Fatalf("%q parsed but writes back as %q", s, tok.String())
		}
	})
}
