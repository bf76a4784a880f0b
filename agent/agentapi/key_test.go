package agentapi_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// slashKey is a key whose standard base64 holds "/" and "+".
var slashKey = wgtypes.Key{
	0xfb, 0xff, 0xbf, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
	0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0xff,
}

func TestSlashKeyFixture(t *testing.T) {
	s := slashKey.String()
	if !strings.Contains(s, "/") || !strings.Contains(s, "+") {
		t.Fatalf("fixture %s lacks / or +", s)
	}
}

func TestParsePathKey(t *testing.T) {
	std := slashKey.String() // "+/+/AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHP8="
	url := base64.URLEncoding.EncodeToString(slashKey[:])
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "raw standard with slash", in: std, ok: true},
		{name: "raw standard unpadded", in: strings.TrimRight(std, "="), ok: true},
		{name: "percent-encoded upper case", in: agentapi.EscapeKey(slashKey), ok: true},
		{name: "percent-encoded lower case", in: strings.NewReplacer("/", "%2f", "+", "%2b", "=", "%3d").Replace(std), ok: true},
		{name: "percent-encoded slash only", in: strings.ReplaceAll(std, "/", "%2F"), ok: true},
		{name: "percent-encoded unpadded", in: strings.NewReplacer("/", "%2F", "+", "%2B").Replace(strings.TrimRight(std, "=")), ok: true},
		{name: "base64url padded", in: url, ok: true},
		{name: "base64url unpadded", in: strings.TrimRight(url, "="), ok: true},
		{name: "base64url percent-encoded padding", in: strings.TrimRight(url, "=") + "%3D", ok: true},

		{name: "empty", in: ""},
		{name: "31 bytes", in: base64.StdEncoding.EncodeToString(slashKey[:31])},
		{name: "33 bytes", in: base64.StdEncoding.EncodeToString(append(slashKey[:], 0))},
		{name: "64 bytes", in: base64.StdEncoding.EncodeToString(append(slashKey[:], slashKey[:]...))},
		{name: "double padding", in: std + "="},
		{name: "padding in the middle", in: std[:20] + "=" + std[21:]},
		{name: "mixed alphabets", in: strings.Replace(std, "/", "_", 1)},
		{name: "garbage", in: "not a key at all!"},
		{name: "bad percent-encoding", in: "%zz" + std[1:]},
		{name: "double percent-encoding", in: strings.ReplaceAll(std, "/", "%252F")},
		{name: "newline inside", in: std[:10] + "\n" + std[10:]},
		{name: "trailing slash", in: std + "/"},
		{name: "space", in: std[:43] + " "},
		{name: "extra segment", in: std + "/dump"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := agentapi.ParsePathKey(tt.in)
			if !tt.ok {
				if err == nil {
					t.Fatalf("ParsePathKey(%q) = %s, want error", tt.in, k)
				}
				if !errors.Is(err, agentapi.ErrBadKey) || !errors.Is(err, agentapi.ErrBadRequest) {
					t.Fatalf("ParsePathKey(%q) error %v does not wrap ErrBadKey and ErrBadRequest", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePathKey(%q): %v", tt.in, err)
			}
			if k != slashKey {
				t.Fatalf("ParsePathKey(%q) = %s, want %s", tt.in, k, slashKey)
			}
		})
	}
}

func TestEscapeKey(t *testing.T) {
	got := agentapi.EscapeKey(slashKey)
	want := "%2B%2F%2B%2FAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHP8%3D"
	if got != want {
		t.Fatalf("EscapeKey = %s, want %s", got, want)
	}
	if strings.ContainsAny(got, "/+=") {
		t.Fatalf("EscapeKey left a reserved character in %s", got)
	}
}

func TestParseKey(t *testing.T) {
	std := slashKey.String()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "standard", in: std, ok: true},
		{name: "unpadded", in: strings.TrimRight(std, "=")},
		{name: "base64url", in: base64.URLEncoding.EncodeToString(slashKey[:])},
		{name: "base64url unpadded", in: base64.RawURLEncoding.EncodeToString(slashKey[:])},
		{name: "percent-encoded", in: agentapi.EscapeKey(slashKey)},
		{name: "31 bytes", in: base64.StdEncoding.EncodeToString(slashKey[:31])},
		{name: "33 bytes", in: base64.StdEncoding.EncodeToString(append(slashKey[:], 0))},
		{name: "hex", in: hex.EncodeToString(slashKey[:])},
		{name: "empty", in: ""},
		{name: "newline", in: "\n" + std[1:]},
		// wgtypes.ParseKey skips line breaks; the one parser does not.
		{name: "line break inside", in: std[:20] + "\r\n" + std[20:]},
		{name: "trailing newline", in: std + "\n"},
		{name: "leading space", in: " " + std},
		{name: "double padding", in: std[:42] + "=="},
		{name: "padding in the middle", in: std[:20] + "=" + std[21:]},
		{name: "garbage of the right length", in: strings.Repeat("!", 43) + "="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := agentapi.ParseKey(tt.in)
			if !tt.ok {
				if !errors.Is(err, agentapi.ErrBadKey) {
					t.Fatalf("ParseKey(%q) = %s, %v; want ErrBadKey", tt.in, k, err)
				}
				return
			}
			if err != nil || k != slashKey {
				t.Fatalf("ParseKey(%q) = %s, %v; want %s", tt.in, k, err, slashKey)
			}
		})
	}
}

func FuzzParsePathKey(f *testing.F) {
	f.Add(slashKey.String())
	f.Add(agentapi.EscapeKey(slashKey))
	f.Add(base64.RawURLEncoding.EncodeToString(slashKey[:]))
	f.Add("%2f%2B%3d")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := agentapi.ParsePathKey(s)
		if err != nil {
			if !errors.Is(err, agentapi.ErrBadKey) {
				t.Fatalf("error %v does not wrap ErrBadKey", err)
			}
			return
		}
		// Every accepted form round-trips through the escaped form.
		k2, err := agentapi.ParsePathKey(agentapi.EscapeKey(k))
		if err != nil || k2 != k {
			t.Fatalf("EscapeKey(%s) does not round-trip: %s, %v", k, k2, err)
		}
		k3, err := agentapi.ParseKey(k.String())
		if err != nil || k3 != k {
			t.Fatalf("ParseKey(%s) = %s, %v", k, k3, err)
		}
	})
}

// TestParseKeyZero: the parser takes the all-zero key like any other;
// refusing it is a rule of the caller (the fleet refuses it from
// operators, and a zero preshared key means none).
func TestParseKeyZero(t *testing.T) {
	var zero wgtypes.Key
	k, err := agentapi.ParseKey(zero.String())
	if err != nil || k != zero {
		t.Fatalf("ParseKey(%s) = %s, %v; want the zero key", zero, k, err)
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(slashKey.String())
	f.Add(strings.TrimRight(slashKey.String(), "="))
	f.Add(agentapi.EscapeKey(slashKey))
	f.Add(slashKey.String()[:20] + "\n" + slashKey.String()[20:])
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := agentapi.ParseKey(s)
		if err != nil {
			if !errors.Is(err, agentapi.ErrBadKey) {
				t.Fatalf("error %v does not wrap ErrBadKey", err)
			}
			return
		}
		// Only the 44 characters of padded standard base64 get in.
		if len(s) != 44 || s[43] != '=' || strings.Trim(s[:43], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != "" {
			t.Fatalf("ParseKey accepted %q", s)
		}
		// What a body may carry, a path may carry too.
		if k2, err := agentapi.ParsePathKey(s); err != nil || k2 != k {
			t.Fatalf("ParsePathKey(%q) = %s, %v; ParseKey gave %s", s, k2, err, k)
		}
		// The canonical form of what was accepted parses to the same key.
		if k3, err := agentapi.ParseKey(k.String()); err != nil || k3 != k {
			t.Fatalf("ParseKey(%s) = %s, %v", k, k3, err)
		}
	})
}
