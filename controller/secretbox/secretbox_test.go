package secretbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustBox(t *testing.T, key []byte) *Box {
	t.Helper()
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New(%d bytes) succeeded, want error", n)
		}
	}
	if _, err := New(make([]byte, KeySize)); err != nil {
		t.Errorf("New(32 bytes): %v", err)
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	b := mustBox(t, testKey(1))
	tests := []struct {
		name string
		pt   []byte
		aad  string
	}{
		{"empty", []byte{}, "node:1:secret"},
		{"short", []byte("hunter2"), "node:1:secret"},
		{"binary", bytes.Repeat([]byte{0, 0xff}, 100), "peer:7:private_key"},
		{"empty aad", []byte("x"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := b.Seal(tt.pt, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s, "v1:") {
				t.Fatalf("sealed value %q lacks v1: prefix", s)
			}
			if len(tt.pt) >= 6 && strings.Contains(s, string(tt.pt)) {
				t.Fatal("sealed value contains the plaintext")
			}
			got, err := b.Open(s, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.pt) {
				t.Fatalf("Open = %q, want %q", got, tt.pt)
			}
		})
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	b := mustBox(t, testKey(1))
	s1, _ := b.Seal([]byte("same"), "a")
	s2, _ := b.Seal([]byte("same"), "a")
	if s1 == s2 {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

func TestOpenRejects(t *testing.T) {
	b := mustBox(t, testKey(1))
	other := mustBox(t, testKey(2))
	sealed, err := b.Seal([]byte("secret value"), "node:1:secret")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	flip := func(i int) string {
		c := bytes.Clone(raw)
		c[i] ^= 0x01
		return "v1:" + base64.StdEncoding.EncodeToString(c)
	}
	tests := []struct {
		name   string
		box    *Box
		sealed string
		aad    string
		want   error
	}{
		{"wrong aad row", b, sealed, "node:2:secret", ErrOpen},
		{"wrong aad column", b, sealed, "node:1:other", ErrOpen},
		{"wrong key", other, sealed, "node:1:secret", ErrOpen},
		{"tampered nonce", b, flip(0), "node:1:secret", ErrOpen},
		{"tampered ciphertext", b, flip(13), "node:1:secret", ErrOpen},
		{"tampered tag", b, flip(len(raw) - 1), "node:1:secret", ErrOpen},
		{"truncated", b, "v1:" + base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), "node:1:secret", ErrOpen},
		{"too short", b, "v1:" + base64.StdEncoding.EncodeToString(raw[:20]), "node:1:secret", ErrMalformed},
		{"no prefix", b, strings.TrimPrefix(sealed, "v1:"), "node:1:secret", ErrMalformed},
		{"unknown version", b, "v2:" + strings.TrimPrefix(sealed, "v1:"), "node:1:secret", ErrMalformed},
		{"bad base64", b, "v1:!!!!", "node:1:secret", ErrMalformed},
		{"empty", b, "", "node:1:secret", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := tt.box.Open(tt.sealed, tt.aad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if pt != nil {
				t.Fatalf("Open returned plaintext %q with an error", pt)
			}
		})
	}
}
