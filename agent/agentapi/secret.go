package agentapi

import (
	"bytes"
	"fmt"
)

// The policy for the shared secrets requests are signed with, held by the
// agent for the secrets it accepts and by the controller for the secrets
// operators give it for their nodes.
const (
	// MinSecretLen is the length in bytes of the shortest secret accepted.
	MinSecretLen = 16
	// PlaceholderSecret is the example secret of the seed's sample
	// configuration; a node that uses it is open to anyone who read the
	// docs, so it is refused.
	PlaceholderSecret = "change-me-in-production"
)

// CheckSecret returns nil when secret may sign requests: it is at least
// MinSecretLen bytes and not PlaceholderSecret, with or without white space
// around it. Otherwise the error's text says why, written to follow the
// word "secret" (`"secret " + err.Error()` is a sentence), and never
// quotes the secret. The empty secret is too short. Callers may add rules
// of their own on top (the controller bounds the length and refuses
// surrounding white space).
func CheckSecret(secret []byte) error {
	switch {
	case bytes.Equal(bytes.TrimSpace(secret), []byte(PlaceholderSecret)):
		return fmt.Errorf("is the placeholder %q of the sample configuration: generate a real one (openssl rand -hex 32)", PlaceholderSecret)
	case len(secret) < MinSecretLen:
		return fmt.Errorf("is %d bytes; at least %d are required (openssl rand -hex 32 makes one)", len(secret), MinSecretLen)
	}
	return nil
}
