package agentapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// Bulk bodies (extension). A request body larger than MaxBodyBytes is
// taken only by an agent that advertises CapBulkBody, and only on its
// bulk routes (PUT /v1/wg/{iface}/peers), up to the limit it advertises in
// Health.MaxBulkBodyBytes. Such a request is signed over the SHA-256 of its
// body instead of the body, so that the agent can verify it from its
// headers before it reads a byte of the body: it carries
//
//	X-Content-SHA256: lowercase hex of the SHA-256 of the body
//	X-Nonce:          required
//	X-Signature:      HMAC over METHOD|PATH|sha256=HEX|TIMESTAMP|NONCE
//
// and the agent then reads the body, checks its digest and remembers the
// nonce. Unauthenticated requests never get past MaxBodyBytes: the bound
// on what the agent buffers for requests it has not authenticated stays
// where it was.
const (
	CapBulkBody         = "bulk-body"
	HeaderContentSHA256 = "X-Content-SHA256"
	// MaxBulkBodyBytes is this implementation's limit on a bulk body: a
	// replace-all of wireguard-go's most peers (65,536) with an IPv4 and
	// an IPv6 address and a preshared key each fits.
	MaxBulkBodyBytes = 24 << 20

	// ReasonBulkHeaders refuses a bulk request whose X-Content-SHA256 is
	// not 64 lowercase hex digits or that has no nonce.
	ReasonBulkHeaders = "a bulk body needs X-Content-SHA256 (64 lowercase hex digits) and X-Nonce"
	// ReasonBulkDigest refuses a bulk body that does not match its
	// X-Content-SHA256.
	ReasonBulkDigest = "body does not match X-Content-SHA256"
)

// bulkMessageBody stands for the body in the signed message of a bulk
// request.
func bulkMessageBody(digestHex string) []byte { return []byte("sha256=" + digestHex) }

// IsBulk reports whether r is signed as a bulk request (X-Content-SHA256).
func IsBulk(r *http.Request) bool { return r.Header.Get(HeaderContentSHA256) != "" }

// VerifyBulkHeaders checks a bulk request from its headers alone, after
// CheckHeaders: the digest header and the nonce are well-formed, the
// signature over the digest matches, and the nonce was not seen. It
// returns the digest the body must have. Nothing is remembered yet:
// VerifyBulkBody does that once the body matched.
//
// It also returns the secret the request was signed with, as
// VerifySigner does (the caller must not modify it).
func (v *Verifier) VerifyBulkHeaders(r *http.Request, h Headers) ([sha256.Size]byte, []byte, error) {
	var digest [sha256.Size]byte
	d := r.Header.Get(HeaderContentSHA256)
	if h.nonce == "" || len(d) != hex.EncodedLen(sha256.Size) || hex.EncodeToString(mustHex(d)) != d {
		return digest, nil, &AuthError{Reason: ReasonBulkHeaders}
	}
	if len(h.sig) != 32 {
		return digest, nil, &AuthError{Reason: ReasonBadSignature}
	}
	signer := v.signer(r, bulkMessageBody(d), h.ts, h.nonce, h.sig)
	if signer == nil {
		return digest, nil, &AuthError{Reason: ReasonBadSignature}
	}
	key := sha256.Sum256([]byte("n:" + h.nonce)) // as remember keeps it
	if v.replay.has(string(key[:]), v.now()) {
		return digest, nil, &AuthError{Reason: ReasonNonceReused}
	}
	copy(digest[:], mustHex(d))
	return digest, signer, nil
}

// VerifyBulkBody finishes a bulk request whose headers VerifyBulkHeaders
// accepted: body must have digest; then its nonce is remembered (and
// logged) as for any request.
func (v *Verifier) VerifyBulkBody(r *http.Request, h Headers, digest [sha256.Size]byte, body []byte) error {
	if sha256.Sum256(body) != digest {
		return &AuthError{Reason: ReasonBulkDigest}
	}
	now := v.now()
	// The window again: time passed while the body was read.
	w := int64(v.window / time.Second)
	if d := now.Unix() - h.sent; d > w || d < -w {
		return &AuthError{Reason: ReasonStaleTimestamp}
	}
	durable, err := v.remember(r.Method, h.sent, h.nonce, h.sig, now, false)
	if err != nil {
		return err
	}
	return durable()
}

// mustHex decodes s, or returns nil when it is not hex.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}
