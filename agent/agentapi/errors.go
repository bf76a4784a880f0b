package agentapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. Lower layers wrap them; the agent and the controller map
// them to HTTP status codes and messages in one place each.
var (
	// ErrBadRequest marks a request body or parameter that is malformed.
	ErrBadRequest = errors.New("bad request")
	// ErrBadKey marks a WireGuard key that does not decode to 32 bytes. It
	// is a kind of bad request: errors.Is(err, ErrBadRequest) holds too.
	ErrBadKey = fmt.Errorf("%w: invalid WireGuard key", ErrBadRequest)
	// ErrUnauthorized marks a request whose signature was rejected.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound marks an unknown interface or peer (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrConflict marks a peer that already exists or allowed IPs that
	// overlap another peer's (HTTP 409).
	ErrConflict = errors.New("conflict")
)

// APIError is a non-2xx answer of an agent. Message is the agent's
// {"error": "..."} text, the seed's production agent's {"detail": ...}
// in words (its string, or its validation issues joined), or the status
// text when the body was empty. A body that is not an agent's error is
// never quoted: Foreign is set and Message says what answered instead
// (status code and content type).
//
// errors.Is(err, ErrNotFound) holds for 404, ErrConflict for 409,
// ErrBadRequest for 400 and ErrUnauthorized for 401.
type APIError struct {
	StatusCode int
	Message    string
	// Foreign reports that the body was not an agent's error: whatever
	// answered is likely no wgfleet agent.
	Foreign bool
	// detail reports that Message came from a {"detail": ...} body
	// (FastAPI's): an agent's error, but not ours, so a 404 of it may
	// mean a path that is not served (notServed).
	detail bool
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Is maps the status code onto the package's sentinel errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	}
	return false
}

// Reasons an AuthError gives. The agent sends the reason as the text of its
// 401 {"error": "..."} answer; none of them carries the expected signature.
const (
	ReasonMissingTimestamp = "missing X-Timestamp header"
	ReasonMissingSignature = "missing X-Signature header"
	ReasonStaleTimestamp   = "timestamp outside the allowed window"
	ReasonBadTimestamp     = "invalid timestamp"
	ReasonBadNonce         = "invalid nonce"
	ReasonBadSignature     = "invalid signature"
	// ReasonReplayed answers an exact repeat of a signed write without a
	// nonce: the same method, path, body and timestamp, which a client that
	// repeats a request within one second sends. It begins with the seed
	// contract's "replayed request" and says how to repeat a request.
	ReasonReplayed    = "replayed request: this exact signed request (same method, path, body and timestamp) was already accepted; to repeat a request, send a fresh X-Nonce header with each one (a random token, signed as METHOD|PATH|BODY|TIMESTAMP|NONCE) or sign it again with a later timestamp"
	ReasonNonceReused = "nonce already used: send a fresh X-Nonce with every request"
	// ReasonReplayCacheFull is the one reason that is not the client's
	// fault: the replay memory is full of live entries (see Verifier). An
	// agent may answer it with 503 instead of 401.
	ReasonReplayCacheFull = "replay cache full, retry later"
	// ReasonReplayLogFailed is not the client's fault either: the agent
	// could not record the request in its replay log, so it did not accept
	// it. The agent answers 503.
	ReasonReplayLogFailed = "replay log unavailable, retry later"
)

// AuthError is a request rejected by Verifier.Verify. Reason is one of the
// Reason constants. errors.Is(err, ErrUnauthorized) holds.
type AuthError struct {
	Reason string
	err    error // the agent's own fault behind ReasonReplayLogFailed; for logs
}

// Unwrap returns the fault behind the refusal, if it was the agent's.
func (e *AuthError) Unwrap() error { return e.err }

// Error returns Reason unchanged, so it can go into the 401 body as is.
func (e *AuthError) Error() string { return e.Reason }

// Is reports whether target is ErrUnauthorized.
func (e *AuthError) Is(target error) bool { return target == ErrUnauthorized }
