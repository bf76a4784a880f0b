package agentapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrBadFingerprint is wrapped by every error of ParseFingerprint.
var ErrBadFingerprint = errors.New("bad TLS fingerprint")

// Fingerprint is the SHA-256 of a certificate's DER bytes: what the
// controller pins for an agent that serves HTTPS. The zero value means
// "no fingerprint" (nothing pinned).
type Fingerprint [sha256.Size]byte

// FingerprintOf returns the fingerprint of a DER-encoded certificate.
func FingerprintOf(der []byte) Fingerprint {
	return sha256.Sum256(der)
}

// String is the fingerprint's one written form: 64 characters of
// lowercase hex, no prefix, no colons. The zero Fingerprint is "".
func (f Fingerprint) String() string {
	if f.IsZero() {
		return ""
	}
	return hex.EncodeToString(f[:])
}

// Short is the first 16 hex characters, enough to tell two certificates
// apart in a message; the zero Fingerprint is "none".
func (f Fingerprint) Short() string {
	if f.IsZero() {
		return "none"
	}
	return hex.EncodeToString(f[:8])
}

// IsZero reports whether f is the zero value (no fingerprint).
func (f Fingerprint) IsZero() bool {
	return f == Fingerprint{}
}

// MarshalText writes String's form, so JSON carries the fingerprint as a
// string ("" for none).
func (f Fingerprint) MarshalText() ([]byte, error) {
	return []byte(f.String()), nil
}

// UnmarshalText parses as ParseFingerprint does.
func (f *Fingerprint) UnmarshalText(b []byte) error {
	p, err := ParseFingerprint(string(b))
	if err != nil {
		return err
	}
	*f = p
	return nil
}

// maxFingerprintText bounds the text ParseFingerprint looks at: the
// longest form it takes, openssl's, is well under this.
const maxFingerprintText = 256

// ParseFingerprint reads a SHA-256 fingerprint as operators copy it: 64
// hex digits in either case, with or without ":" between byte pairs, with
// or without a "sha256:" prefix or openssl's "SHA256 Fingerprint="
// (any case), surrounding space ignored. "" (or only space) is the zero
// Fingerprint, meaning none. Anything else is an error wrapping
// ErrBadFingerprint.
func ParseFingerprint(s string) (Fingerprint, error) {
	if len(s) > maxFingerprintText {
		return Fingerprint{}, fmt.Errorf("%w: longer than %d characters", ErrBadFingerprint, maxFingerprintText)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return Fingerprint{}, nil
	}
	for _, prefix := range []string{"sha256 fingerprint=", "sha256:"} {
		if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
			s = s[len(prefix):]
			break
		}
	}
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		for _, p := range parts {
			if len(p) != 2 {
				return Fingerprint{}, fmt.Errorf("%w: colons must separate pairs of hex digits", ErrBadFingerprint)
			}
		}
		s = strings.Join(parts, "")
	}
	if len(s) != 2*sha256.Size {
		return Fingerprint{}, fmt.Errorf("%w: want %d hex digits of SHA-256, got %d characters", ErrBadFingerprint, 2*sha256.Size, len(s))
	}
	var f Fingerprint
	if _, err := hex.Decode(f[:], []byte(s)); err != nil {
		return Fingerprint{}, fmt.Errorf("%w: not hex", ErrBadFingerprint)
	}
	if f.IsZero() {
		return Fingerprint{}, fmt.Errorf("%w: all zero", ErrBadFingerprint)
	}
	return f, nil
}
