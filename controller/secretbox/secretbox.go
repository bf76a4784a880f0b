// Package secretbox seals the controller's secrets at rest (node HMAC
// secrets, peer private and preshared keys) with AES-256-GCM under one
// 32-byte master key.
//
// A sealed value is the text "v1:" followed by the standard base64 of
// nonce|ciphertext|tag. Every value is sealed with additional authenticated
// data (aad) naming where it lives, such as "node:12:secret", so a sealed
// value copied to another row or column does not open.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a master key in bytes.
const KeySize = 32

// prefix marks the format version of a sealed value.
const prefix = "v1:"

var (
	// ErrMalformed reports a sealed value that is not in the v1 format.
	ErrMalformed = errors.New("secretbox: malformed sealed value")
	// ErrOpen reports a sealed value that does not authenticate: a wrong
	// master key, a wrong aad, or a value that was tampered with. The
	// three cannot be told apart.
	ErrOpen = errors.New("secretbox: message authentication failed (wrong key, wrong aad or tampered value)")
)

// Box seals and opens values under one master key. It is safe for
// concurrent use. It never exposes the key.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a key of exactly KeySize bytes. The Box does not
// retain key; the caller may wipe it afterwards.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: master key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad under a fresh random nonce and
// returns the sealed text. An empty plaintext seals to a non-empty value.
func (b *Box) Seal(plaintext []byte, aad string) (string, error) {
	ns := b.aead.NonceSize()
	buf := make([]byte, ns, ns+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("secretbox: reading nonce: %w", err)
	}
	buf = b.aead.Seal(buf, buf[:ns], plaintext, []byte(aad))
	return prefix + base64.StdEncoding.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal with the same key and aad. It returns
// ErrMalformed for text that is not a sealed value and ErrOpen when the
// value does not authenticate.
func (b *Box) Open(sealed string, aad string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: missing %q prefix", ErrMalformed, prefix)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	ns := b.aead.NonceSize()
	if len(raw) < ns+b.aead.Overhead() {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrMalformed, len(raw))
	}
	pt, err := b.aead.Open(nil, raw[:ns], raw[ns:], []byte(aad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
