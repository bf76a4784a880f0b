package agentapi

import (
	"crypto/rand"
	"encoding/base64"
)

// Bounds of an X-Nonce value (docs/AGENT_API.md, "Signing": an extension).
const (
	MinNonceLen = 16
	MaxNonceLen = 64
)

// ValidNonce reports whether s is a well-formed X-Nonce value: 16 to 64
// characters of [A-Za-z0-9_-].
func ValidNonce(s string) bool {
	if len(s) < MinNonceLen || len(s) > MaxNonceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// newNonce returns 32 random characters of [A-Za-z0-9_-] (192 bits).
func newNonce() string {
	var b [24]byte
	rand.Read(b[:]) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b[:])
}
