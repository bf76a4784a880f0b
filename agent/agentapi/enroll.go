package agentapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Enrollment is the one call that goes the other way: an agent that joins
// the fleet by itself calls the controller's POST EnrollPath with a join
// token (issue 12). This file holds that call's contract: the token's
// format and the request and answer bodies.

// EnrollPath is the controller's enrollment endpoint. It needs no other
// authentication than the join token in the body.
const EnrollPath = "/api/enroll"

// Join token format, version 1:
//
//	wgj1.<secret>[.<pin>]
//
// secret is JoinSecretBytes random bytes in unpadded base64url (43
// characters); the controller stores only its SHA-256. pin, when present,
// is the SHA-256 of the controller's TLS certificate in Fingerprint's one
// written form (64 lowercase hex digits): an agent joining over https trusts that certificate and no
// other, so a controller with a self-signed certificate can be joined
// without a CA file. "." occurs in neither part.
const (
	JoinTokenPrefix = "wgj1."
	JoinSecretBytes = 32
	// MaxJoinTokenLen bounds what ParseJoinToken reads.
	MaxJoinTokenLen = 256
)

var joinSecretLen = base64.RawURLEncoding.EncodedLen(JoinSecretBytes)

// ErrBadJoinToken is wrapped by every error of ParseJoinToken.
var ErrBadJoinToken = errors.New("malformed join token")

// JoinToken is a parsed join token.
type JoinToken struct {
	// Secret is the token's secret part, as written (base64url).
	Secret string
	// Pin is the SHA-256 of the controller's certificate; zero when the
	// token carries none.
	Pin Fingerprint
}

// NewJoinToken makes a token with a fresh random secret and the given pin
// (zero for none).
func NewJoinToken(pin Fingerprint) (JoinToken, error) {
	b := make([]byte, JoinSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return JoinToken{}, fmt.Errorf("making a join token: %w", err)
	}
	return JoinToken{Secret: base64.RawURLEncoding.EncodeToString(b), Pin: pin}, nil
}

// HasPin reports whether the token pins the controller's certificate.
func (t JoinToken) HasPin() bool { return !t.Pin.IsZero() }

// String is the token as an operator copies it.
func (t JoinToken) String() string {
	s := JoinTokenPrefix + t.Secret
	if t.HasPin() {
		s += "." + t.Pin.String()
	}
	return s
}

// Display is the start of the token, enough to recognise it in a list and
// far too little to use it: the prefix and 8 characters (48 bits) of the
// secret.
func (t JoinToken) Display() string {
	return JoinTokenPrefix + t.Secret[:min(8, len(t.Secret))]
}

// ParseJoinToken reads a token in the format above, surrounding white
// space ignored. Every error wraps ErrBadJoinToken and never quotes the
// token.
func ParseJoinToken(s string) (JoinToken, error) {
	if len(s) > MaxJoinTokenLen {
		return JoinToken{}, fmt.Errorf("%w: longer than %d characters", ErrBadJoinToken, MaxJoinTokenLen)
	}
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, JoinTokenPrefix)
	if !ok {
		return JoinToken{}, fmt.Errorf("%w: it does not start with %q", ErrBadJoinToken, JoinTokenPrefix)
	}
	secret, pin, hasPin := strings.Cut(rest, ".")
	if len(secret) != joinSecretLen {
		return JoinToken{}, fmt.Errorf("%w: the secret is %d characters, not %d", ErrBadJoinToken, len(secret), joinSecretLen)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(secret)
	if err != nil || len(raw) != JoinSecretBytes {
		return JoinToken{}, fmt.Errorf("%w: the secret is not base64url", ErrBadJoinToken)
	}
	t := JoinToken{Secret: secret}
	if !hasPin {
		return t, nil
	}
	if len(pin) != 2*sha256.Size || strings.ToLower(pin) != pin {
		return JoinToken{}, fmt.Errorf("%w: the certificate pin is not %d lowercase hex digits", ErrBadJoinToken, 2*sha256.Size)
	}
	if _, err := hex.Decode(t.Pin[:], []byte(pin)); err != nil {
		return JoinToken{}, fmt.Errorf("%w: the certificate pin is not hex", ErrBadJoinToken)
	}
	if !t.HasPin() {
		return JoinToken{}, fmt.Errorf("%w: the certificate pin is all zero", ErrBadJoinToken)
	}
	return t, nil
}

// EnrollRequest is the body of POST EnrollPath. Every field but Name and
// TLSFingerprint is required.
type EnrollRequest struct {
	// Token is the join token as the operator gave it to the agent.
	Token string `json:"token"`
	// Name is the agent's host name; the node is named after it unless the
	// token names the node.
	Name string `json:"name"`
	// AgentURL is how the controller reaches the agent's API.
	AgentURL string `json:"agent_url"`
	// Endpoint is the host:port clients dial.
	Endpoint string `json:"endpoint"`
	// WGInterface is the interface the node's peers go on.
	WGInterface string `json:"wg_interface"`
	// PublicKey is that interface's public key (standard base64).
	PublicKey string `json:"public_key"`
	// Secret is the HMAC secret the agent made for itself: it travels
	// once, here, and the controller keeps it sealed.
	Secret string `json:"secret"`
	// TLSFingerprint is the SHA-256 (hex) of the certificate the agent
	// serves at AgentURL; "" for an http agent.
	TLSFingerprint string `json:"tls_fingerprint"`
}

// EnrollResponse is the data of the controller's answer to a successful
// enrollment (inside its {"status", "message", "data"} envelope).
type EnrollResponse struct {
	NodeID int64  `json:"node_id"`
	Name   string `json:"name"`
	// IPPool is the node's IPv4 pool; Address is the interface's address
	// in it (the pool's first host, with the pool's length).
	IPPool  string `json:"ip_pool_cidr"`
	Address string `json:"address"`
}
