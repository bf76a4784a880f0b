package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Headers of a delivery.
const (
	// SignatureHeader holds "sha256=" and the lowercase hex HMAC-SHA256 of
	// the body under the webhook's secret.
	SignatureHeader = "X-Wgfleet-Signature"
	// EventHeader names the event ("node.offline").
	EventHeader = "X-Wgfleet-Event"
	// DeliveryHeader is the delivery's id: the same on every retry of it.
	DeliveryHeader = "X-Wgfleet-Delivery"
)

const signaturePrefix = "sha256="

// Sign returns the SignatureHeader value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is body's signature under secret, in
// constant time: what a receiver does (and the tests).
func Verify(secret, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok {
		return false
	}
	mac, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(mac, m.Sum(nil))
}
