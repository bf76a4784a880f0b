package agentapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// fpHex is the fingerprint of the fixture DER bytes "certificate".
var fpHex = func() string {
	s := sha256.Sum256([]byte("certificate"))
	return hex.EncodeToString(s[:])
}()

// colons writes h as openssl does: upper case, pairs joined by ":".
func colons(h string) string {
	var pairs []string
	for i := 0; i < len(h); i += 2 {
		pairs = append(pairs, strings.ToUpper(h[i:i+2]))
	}
	return strings.Join(pairs, ":")
}

func TestParseFingerprint(t *testing.T) {
	want := agentapi.FingerprintOf([]byte("certificate"))
	if want.String() != fpHex {
		t.Fatalf("String() = %q, want %q", want.String(), fpHex)
	}
	tests := []struct {
		name string
		in   string
		zero bool // accepted as "none"
		bad  bool
	}{
		{name: "canonical", in: fpHex},
		{name: "upper case", in: strings.ToUpper(fpHex)},
		{name: "sha256 prefix", in: "sha256:" + fpHex},
		{name: "SHA256 prefix upper case", in: "SHA256:" + strings.ToUpper(fpHex)},
		{name: "colons", in: colons(fpHex)},
		{name: "colons lower case with prefix", in: "sha256:" + strings.ToLower(colons(fpHex))},
		{name: "openssl output", in: "SHA256 Fingerprint=" + colons(fpHex) + "\n"},
		{name: "surrounding space", in: "  " + fpHex + "\t"},

		{name: "empty", in: "", zero: true},
		{name: "space only", in: " \n", zero: true},

		{name: "short", in: fpHex[:62], bad: true},
		{name: "long", in: fpHex + "00", bad: true},
		{name: "not hex", in: "zz" + fpHex[2:], bad: true},
		{name: "misplaced colon", in: fpHex[:3] + ":" + fpHex[3:], bad: true},
		{name: "trailing colon", in: colons(fpHex) + ":", bad: true},
		{name: "space inside", in: fpHex[:32] + " " + fpHex[32:], bad: true},
		{name: "other algorithm", in: "sha1:" + fpHex, bad: true},
		{name: "prefix only", in: "sha256:", bad: true},
		{name: "all zero", in: strings.Repeat("0", 64), bad: true},
		{name: "huge", in: strings.Repeat("a", 10000), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := agentapi.ParseFingerprint(tt.in)
			switch {
			case tt.bad:
				if !errors.Is(err, agentapi.ErrBadFingerprint) {
					t.Fatalf("ParseFingerprint(%q) = %v, %v; want ErrBadFingerprint", tt.in, got, err)
				}
			case tt.zero:
				if err != nil || !got.IsZero() {
					t.Fatalf("ParseFingerprint(%q) = %v, %v; want the zero fingerprint", tt.in, got, err)
				}
			default:
				if err != nil || got != want {
					t.Fatalf("ParseFingerprint(%q) = %v, %v; want %v", tt.in, got, err, want)
				}
			}
		})
	}
}

func TestFingerprintText(t *testing.T) {
	f := agentapi.FingerprintOf([]byte("certificate"))
	if got := f.Short(); got != fpHex[:16] {
		t.Errorf("Short() = %q, want %q", got, fpHex[:16])
	}
	var zero agentapi.Fingerprint
	if zero.String() != "" || zero.Short() != "none" {
		t.Errorf("zero: String() = %q, Short() = %q; want \"\" and \"none\"", zero.String(), zero.Short())
	}
	b, err := json.Marshal(struct {
		F agentapi.Fingerprint `json:"f"`
		Z agentapi.Fingerprint `json:"z"`
	}{f, zero})
	if err != nil || string(b) != `{"f":"`+fpHex+`","z":""}` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	var back struct {
		F agentapi.Fingerprint `json:"f"`
	}
	if err := json.Unmarshal([]byte(`{"f":"`+colons(fpHex)+`"}`), &back); err != nil || back.F != f {
		t.Fatalf("json.Unmarshal = %v, %v; want %v", back.F, err, f)
	}
	if err := json.Unmarshal([]byte(`{"f":"nope"}`), &back); !errors.Is(err, agentapi.ErrBadFingerprint) {
		t.Fatalf("json.Unmarshal of a bad fingerprint = %v; want ErrBadFingerprint", err)
	}
}

func FuzzParseFingerprint(f *testing.F) {
	f.Add(fpHex)
	f.Add(colons(fpHex))
	f.Add("sha256:" + fpHex)
	f.Add("SHA256 Fingerprint=" + colons(fpHex))
	f.Add("")
	f.Add("sha256:")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := agentapi.ParseFingerprint(s)
		if err != nil {
			if !errors.Is(err, agentapi.ErrBadFingerprint) {
				t.Fatalf("error %v does not wrap ErrBadFingerprint", err)
			}
			return
		}
		if fp.IsZero() {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("ParseFingerprint(%q) gave none for non-empty text", s)
			}
			return
		}
		// The written form is canonical and round-trips.
		back, err := agentapi.ParseFingerprint(fp.String())
		if err != nil || back != fp || len(fp.String()) != 64 || fp.String() != strings.ToLower(fp.String()) {
			t.Fatalf("ParseFingerprint(%q) = %v; its String %q does not round-trip: %v, %v", s, fp, fp.String(), back, err)
		}
		// Every hex digit of the input made it: its digits, lowered, are the canonical form.
		digits := strings.Map(func(r rune) rune {
			if strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return r
			}
			return -1
		}, s)
		if !strings.HasSuffix(strings.ToLower(digits), fp.String()) {
			t.Fatalf("ParseFingerprint(%q) = %s, not the input's digits", s, fp)
		}
	})
}
