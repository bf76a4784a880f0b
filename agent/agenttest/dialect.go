package agenttest

import (
	"crypto/hmac"
	"net/http"
	"strconv"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// A Dialect is how an agent of the seed's family speaks the contract where
// agents differ (docs/AGENT_API.md "Signing" and "Endpoints"). The zero
// Dialect is our agent's.
// Other agents of the family are emulated by setting its fields.
type Dialect struct {
	// Paths is where the endpoints are served.
	Paths Paths
	// Signing is which form of the path a signature must cover.
	Signing Signing
	// Quirks are its behaviours beyond the contract (field.go).
	Quirks Quirks
}

// Paths says which path families a Fake serves.
type Paths int

const (
	// PathsBoth serves the seed endpoints bare and under /v1 and the
	// extensions under /v1 (our agent).
	PathsBoth Paths = iota
	// PathsBare serves the seed endpoints bare only; /v1 is 404.
	PathsBare
	// PathsV1 serves /health bare and everything else only under /v1; a
	// bare /wg/... is 404.
	PathsV1
)

// serves reports whether p serves op at a path with (v1) or without the
// /v1 prefix.
func (p Paths) serves(op Op, v1 bool) bool {
	switch {
	case op == OpHealth:
		return !v1
	case p == PathsBare:
		return !v1 && !extension(op)
	case p == PathsV1:
		return v1
	default:
		return v1 || !extension(op)
	}
}

// extension reports whether op is ours, not the seed's.
func extension(op Op) bool {
	switch op {
	case OpInterface, OpPeers, OpPeer, OpSync:
		return true
	}
	return false
}

// Signing says which form of the path a Fake verifies a signature over.
type Signing int

const (
	// SignEither accepts the raw request target or the percent-decoded
	// path, with replay and nonce checks: the real agentapi.Verifier (our
	// agent).
	SignEither Signing = iota
	// SignRawTarget accepts only the raw request target, query included,
	// knows no X-Nonce (a request signed with one fails) and remembers
	// nothing (the seed's reference agent).
	SignRawTarget
	// SignDecodedPath accepts only the percent-decoded path without the
	// query, knows no X-Nonce and remembers nothing (the later production
	// agent).
	SignDecodedPath
)

// verify checks r's signature the way s says; body is r's body.
func (f *Fake) verify(r *http.Request, body []byte) error {
	if f.dialect.Signing == SignEither {
		return f.verifier.Verify(r, body)
	}
	ts, sig := r.Header.Get(agentapi.HeaderTimestamp), r.Header.Get(agentapi.HeaderSignature)
	if ts == "" {
		return &agentapi.AuthError{Reason: agentapi.ReasonMissingTimestamp}
	}
	if sig == "" {
		return &agentapi.AuthError{Reason: agentapi.ReasonMissingSignature}
	}
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return &agentapi.AuthError{Reason: agentapi.ReasonBadTimestamp}
	}
	if d := f.now().Sub(time.Unix(sent, 0)); d > agentapi.DefaultWindow || d < -agentapi.DefaultWindow {
		return &agentapi.AuthError{Reason: agentapi.ReasonStaleTimestamp}
	}
	path := r.RequestURI
	if f.dialect.Signing == SignDecodedPath {
		path = r.URL.Path
	}
	// These agents know no nonce: the message never has a fifth field.
	want := agentapi.Sign([]byte(f.Secret), r.Method, path, body, ts, "")
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return &agentapi.AuthError{Reason: agentapi.ReasonBadSignature}
	}
	return nil
}
