package agentapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Header names of the signing scheme (docs/AGENT_API.md, "Signing").
const (
	HeaderTimestamp = "X-Timestamp"
	HeaderSignature = "X-Signature"
	HeaderNonce     = "X-Nonce"
)

// Message returns the bytes that are signed: METHOD|PATH|BODY|TIMESTAMP, and
// |NONCE appended when nonce is not empty. A nil body is the empty string.
func Message(method, path string, body []byte, timestamp, nonce string) []byte {
	n := len(method) + len(path) + len(body) + len(timestamp) + 3
	if nonce != "" {
		n += len(nonce) + 1
	}
	m := make([]byte, 0, n)
	m = append(m, method...)
	m = append(m, '|')
	m = append(m, path...)
	m = append(m, '|')
	m = append(m, body...)
	m = append(m, '|')
	m = append(m, timestamp...)
	if nonce != "" {
		m = append(m, '|')
		m = append(m, nonce...)
	}
	return m
}

// Sign returns the X-Signature value for a request: the lowercase hex
// HMAC-SHA256 of Message under secret.
func Sign(secret []byte, method, path string, body []byte, timestamp, nonce string) string {
	return hex.EncodeToString(mac(secret, method, path, body, timestamp, nonce))
}

func mac(secret []byte, method, path string, body []byte, timestamp, nonce string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(Message(method, path, body, timestamp, nonce))
	return h.Sum(nil)
}
