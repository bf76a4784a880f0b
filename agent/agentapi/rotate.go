package agentapi

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
)

// Secret rotation (docs/AGENT_API.md, "Secret rotation"): the controller
// offers a new secret in a request signed with one the agent accepts; the
// agent then accepts both until a confirm signed with the new one, when it
// drops every other.
const (
	// CapSecretRotation is advertised by agents that serve the two
	// endpoints below.
	CapSecretRotation = "secret-rotation"
	// PathSecretRotate takes a RotateSecretRequest (POST).
	PathSecretRotate = "/v1/secret/rotate"
	// PathSecretConfirm takes no body (POST) and must be signed with the
	// offered secret.
	PathSecretConfirm = "/v1/secret/confirm"

	// MaxRotatedSecretLen is the longest secret an agent takes by
	// rotation, in bytes.
	MaxRotatedSecretLen = 1024

	// RotationPending and RotationConfirmed are the statuses of a
	// RotationStatus.
	RotationPending   = "pending"
	RotationConfirmed = "confirmed"
)

// RotateSecretRequest is the body of POST /v1/secret/rotate. SealedSecret
// is the new secret sealed with the secret that signs the request
// (SealSecret), so that it never crosses the wire in the clear, even over
// plain HTTP.
type RotateSecretRequest struct {
	SealedSecret string `json:"sealed_secret"`
}

// DecodeRotateSecret decodes a POST /v1/secret/rotate body as decodeBody
// does (unknown fields refused); a missing or empty sealed_secret is an
// error wrapping ErrBadRequest.
func DecodeRotateSecret(data []byte) (RotateSecretRequest, error) {
	var req RotateSecretRequest
	if err := decodeBody(data, &req); err != nil {
		return RotateSecretRequest{}, err
	}
	if req.SealedSecret == "" {
		return RotateSecretRequest{}, fmt.Errorf(`%w: "sealed_secret" is required`, ErrBadRequest)
	}
	return req, nil
}

// RotationStatus answers both rotation endpoints: RotationPending after an
// offer, RotationConfirmed after a confirm.
type RotationStatus struct {
	Status string `json:"status"`
}

// sealInfo separates the rotation key from every other use of a secret.
const sealInfo = "wgfleet secret rotation v1"

// rotationAEAD is AES-256-GCM under HMAC-SHA256(signing, sealInfo).
func rotationAEAD(signing []byte) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, signing)
	m.Write([]byte(sealInfo))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealSecret seals secret under a key derived from signing, the secret
// that signs the request carrying it: standard base64 of a random nonce
// followed by the AES-256-GCM ciphertext.
func SealSecret(signing, secret []byte) (string, error) {
	aead, err := rotationAEAD(signing)
	if err != nil {
		return "", fmt.Errorf("sealing secret: %w", err)
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(secret)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("sealing secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, secret, nil)), nil
}

// ErrSealedSecret is OpenSecret's error: the sealed secret is malformed or
// was not sealed with the given signing secret. It wraps ErrBadRequest.
var ErrSealedSecret = fmt.Errorf("%w: sealed_secret is not a secret sealed with the secret that signed the request", ErrBadRequest)

// OpenSecret opens what SealSecret sealed with signing.
func OpenSecret(signing []byte, sealed string) ([]byte, error) {
	data, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, ErrSealedSecret
	}
	aead, err := rotationAEAD(signing)
	if err != nil {
		return nil, fmt.Errorf("opening secret: %w", err)
	}
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrSealedSecret
	}
	secret, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], nil)
	if err != nil {
		return nil, ErrSealedSecret
	}
	return secret, nil
}

// CheckRotatedSecret returns nil when secret may be taken by rotation:
// CheckSecret accepts it, it is at most MaxRotatedSecretLen bytes and it
// is printable ASCII without spaces and does not begin with '#', so that
// it could be a line of an agent's secret file as well. Its error, like
// CheckSecret's, follows the word "secret".
func CheckRotatedSecret(secret []byte) error {
	if err := CheckSecret(secret); err != nil {
		return err
	}
	if len(secret) > MaxRotatedSecretLen {
		return fmt.Errorf("is %d bytes; at most %d are taken by rotation", len(secret), MaxRotatedSecretLen)
	}
	if secret[0] == '#' {
		return errors.New("begins with '#', which a secret file reads as a comment")
	}
	for _, b := range secret {
		if b < 0x21 || b > 0x7e {
			return errors.New("holds a character that is not printable ASCII (or a space)")
		}
	}
	return nil
}

// OfferSecret calls POST /v1/secret/rotate: it offers next, sealed with
// and signed with signing (one of the secrets the agent accepts now),
// whatever secrets the Client itself signs with. The agent then accepts
// next as well until ConfirmSecret.
func (c *Client) OfferSecret(ctx context.Context, signing, next []byte) (RotationStatus, error) {
	if len(signing) == 0 || len(next) == 0 {
		return RotationStatus{}, errors.New("agentapi: offering a secret needs the signing and the next secret")
	}
	sealed, err := SealSecret(signing, next)
	if err != nil {
		return RotationStatus{}, err
	}
	var st RotationStatus
	err = c.doOnce(ctx, signing, http.MethodPost, PathSecretRotate, RotateSecretRequest{SealedSecret: sealed}, &st, c.learnedNonce(ctx))
	return st, err
}

// ConfirmSecret calls POST /v1/secret/confirm signed with next, the secret
// offered before: the agent drops every other secret it accepted.
func (c *Client) ConfirmSecret(ctx context.Context, next []byte) (RotationStatus, error) {
	if len(next) == 0 {
		return RotationStatus{}, errors.New("agentapi: confirming a secret needs it")
	}
	var st RotationStatus
	err := c.doOnce(ctx, next, http.MethodPost, PathSecretConfirm, nil, &st, c.learnedNonce(ctx))
	return st, err
}
