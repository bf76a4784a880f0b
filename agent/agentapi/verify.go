package agentapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of VerifierConfig.
const (
	DefaultWindow     = 300 * time.Second
	DefaultMaxEntries = 100000
)

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Secrets are the shared secrets; a signature under any one of them is
	// accepted. At least one non-empty secret is required.
	Secrets [][]byte
	// Window is how far X-Timestamp may be from Now, either direction.
	// 0 means DefaultWindow.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxEntries bounds the replay memory (signatures and nonces). 0 means
	// DefaultMaxEntries.
	MaxEntries int
	// ReplayLog, when not "", is a file (mode 0600, in a directory that
	// exists) where every remembered signature or nonce is also recorded,
	// as a digest with its expiry, on stable storage before Verify accepts
	// the request; NewVerifier reads back those still inside the window.
	// Replay protection then holds across restarts and crashes. "" keeps
	// the memory in RAM only. Close closes the file.
	ReplayLog string
}

// Verifier checks the signature, timestamp and freshness of agent requests
// (docs/AGENT_API.md, "Signing"). It is safe for concurrent use.
//
// A signature is accepted over any of three forms of the path: the raw
// request target (r.RequestURI, query included), the percent-decoded path
// without the query (r.URL.Path), and the raw path without the query
// (r.URL.EscapedPath()); each against every configured secret.
//
// Replay protection: the signature of every request that is not a safe
// method (GET, HEAD, OPTIONS, TRACE) is remembered until its timestamp
// leaves the window, and an exact repeat is rejected; this covers POST, PUT,
// DELETE and PATCH as the protocol requires. A request with X-Nonce has its
// nonce remembered instead, whatever the method, and a reuse is rejected.
// Nothing is remembered before the signature has been verified. When the
// memory is full of live entries, requests that would need remembering are
// rejected with ReasonReplayCacheFull (see replayCache for why not evict).
// With VerifierConfig.ReplayLog, what is remembered is also on stable
// storage before Verify returns nil, and is remembered again after a
// restart (see replayLog).
type Verifier struct {
	window  time.Duration
	now     func() time.Time
	secrets atomic.Pointer[[][]byte]
	replay  *replayCache
	log     *replayLog // nil: memory only
}

// NewVerifier returns a Verifier for cfg. It fails when there is no secret,
// a secret is empty, or Window or MaxEntries is negative.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Window < 0 {
		return nil, errors.New("agentapi: negative verifier window")
	}
	if cfg.MaxEntries < 0 {
		return nil, errors.New("agentapi: negative replay cache size")
	}
	v := &Verifier{window: cfg.Window, now: cfg.Now}
	if v.window == 0 {
		v.window = DefaultWindow
	}
	if v.now == nil {
		v.now = time.Now
	}
	max := cfg.MaxEntries
	if max == 0 {
		max = DefaultMaxEntries
	}
	v.replay = newReplayCache(max)
	if err := v.SetSecrets(cfg.Secrets); err != nil {
		return nil, err
	}
	if cfg.ReplayLog != "" {
		log, entries, err := openReplayLog(cfg.ReplayLog, v.now(), func() []replayEntry { return v.replay.snapshot(v.now()) })
		if err != nil {
			return nil, err
		}
		v.replay.load(entries)
		v.log = log
	}
	return v, nil
}

// Close closes the replay log, if there is one, after the write in
// progress; a later Verify that needs to remember a request refuses it with
// ReasonReplayLogFailed. It is idempotent and safe to call on a Verifier
// without a log.
func (v *Verifier) Close() error {
	if v.log == nil {
		return nil
	}
	return v.log.close()
}

// SetSecrets replaces the accepted secrets, for rotation at runtime. It
// fails, changing nothing, when secrets is empty or holds an empty secret.
// The slices are copied. Remembered signatures and nonces are kept.
func (v *Verifier) SetSecrets(secrets [][]byte) error {
	if len(secrets) == 0 {
		return errors.New("agentapi: no secret configured")
	}
	cp := make([][]byte, len(secrets))
	for i, s := range secrets {
		if len(s) == 0 {
			return errors.New("agentapi: empty secret")
		}
		cp[i] = append([]byte(nil), s...)
	}
	v.secrets.Store(&cp)
	return nil
}

// Headers are a request's signing headers, checked by CheckHeaders.
type Headers struct {
	ts    string // X-Timestamp as sent
	sent  int64  // X-Timestamp parsed
	nonce string // "" for none
	sig   []byte // X-Signature decoded, 32 bytes
}

// CheckHeaders checks what can be checked of r without its body: both
// headers present, the timestamp a number inside the window, the nonce
// well-formed, the signature 64 hex digits. A request that fails here can
// be refused before a byte of its body is read. It returns an *AuthError
// saying why, as Verify would.
func (v *Verifier) CheckHeaders(r *http.Request) (Headers, error) {
	ts := r.Header.Get(HeaderTimestamp)
	if ts == "" {
		return Headers{}, &AuthError{Reason: ReasonMissingTimestamp}
	}
	sigHex := r.Header.Get(HeaderSignature)
	if sigHex == "" {
		return Headers{}, &AuthError{Reason: ReasonMissingSignature}
	}
	sent, ok := parseTimestamp(ts)
	if !ok {
		return Headers{}, &AuthError{Reason: ReasonBadTimestamp}
	}
	// Whole seconds on both sides: a request stamped exactly Window ago is
	// still inside. sent >= 0 and now is near the present, so no overflow.
	w := int64(v.window / time.Second)
	if d := v.now().Unix() - sent; d > w || d < -w {
		return Headers{}, &AuthError{Reason: ReasonStaleTimestamp}
	}
	nonce := r.Header.Get(HeaderNonce)
	if nonce != "" && !ValidNonce(nonce) {
		return Headers{}, &AuthError{Reason: ReasonBadNonce}
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != 32 {
		return Headers{}, &AuthError{Reason: ReasonBadSignature}
	}
	return Headers{ts: ts, sent: sent, nonce: nonce, sig: sig}, nil
}

// Verify checks r, whose body the caller has already read into body (nil
// for none). It returns nil for an authentic, fresh request and otherwise an
// *AuthError saying why not.
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	h, err := v.CheckHeaders(r)
	if err != nil {
		return err
	}
	return v.VerifyBody(r, h, body)
}

// VerifyBody finishes what CheckHeaders began: h must be what it returned
// for r. It checks the signature over body and the request's freshness,
// and remembers it against replays.
func (v *Verifier) VerifyBody(r *http.Request, h Headers, body []byte) error {
	_, err := v.VerifySigner(r, h, body)
	return err
}

// VerifySigner is VerifyBody that also returns, on success, the secret
// the request was signed with (the caller must not modify it).
func (v *Verifier) VerifySigner(r *http.Request, h Headers, body []byte) ([]byte, error) {
	signer, durable, err := v.verifySigner(r, h, body, false)
	if err == nil {
		err = durable()
	}
	if err != nil {
		return nil, err
	}
	return signer, nil
}

// VerifySignerDeferred is VerifySigner for a handler that can do its
// work before the request is on record against replays, provided it
// makes nothing durable and answers nothing before durable returned nil:
// the replay log's fsync then runs while the handler works, instead of
// before it. The request is remembered in memory at once, so a replay is
// refused meanwhile. durable is never nil; it waits for the replay log
// and returns the error VerifySigner would have returned (an *AuthError,
// ReasonReplayLogFailed), the same at every call.
func (v *Verifier) VerifySignerDeferred(r *http.Request, h Headers, body []byte) (signer []byte, durable func() error, err error) {
	return v.verifySigner(r, h, body, true)
}

func (v *Verifier) verifySigner(r *http.Request, h Headers, body []byte, deferred bool) ([]byte, func() error, error) {
	if len(h.sig) != 32 {
		return nil, nil, &AuthError{Reason: ReasonBadSignature} // a zero Headers
	}
	now := v.now()
	// The window again: time passed while the body was read.
	w := int64(v.window / time.Second)
	if d := now.Unix() - h.sent; d > w || d < -w {
		return nil, nil, &AuthError{Reason: ReasonStaleTimestamp}
	}
	signer := v.signer(r, body, h.ts, h.nonce, h.sig)
	if signer == nil {
		return nil, nil, &AuthError{Reason: ReasonBadSignature}
	}
	durable, err := v.remember(r.Method, h.sent, h.nonce, h.sig, now, deferred)
	if err != nil {
		return nil, nil, err
	}
	return signer, durable, nil
}

// durableNow is the durable of a request with nothing to wait for.
func durableNow() error { return nil }

// remember records a verified request against replays: its nonce, or
// its signature when it has no nonce and its method is not safe. The
// record is in memory when it returns; durable waits for the replay log,
// which remember has already waited for unless deferred.
func (v *Verifier) remember(method string, sent int64, nonce string, sig []byte, now time.Time, deferred bool) (durable func() error, err error) {
	e, ok, err := v.rememberInMemory(method, sent, nonce, sig, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return durableNow, nil
	}
	key, exp := e.key, e.exp
	if v.log == nil {
		return durableNow, nil
	}
	// Durable before accepted. On failure the key stays remembered in
	// memory: the request was not accepted, and a client retries with a
	// fresh signature anyway.
	failed := func(err error) error {
		if err != nil {
			return &AuthError{Reason: ReasonReplayLogFailed, err: err}
		}
		return nil
	}
	if deferred {
		wait := v.log.start(key, exp)
		return func() error { return failed(wait()) }, nil
	}
	if err := failed(v.log.record(key, exp)); err != nil {
		return nil, err
	}
	return durableNow, nil
}

// rememberInMemory records a verified request against replays in memory:
// its nonce, or its signature when it has no nonce and its method is not
// safe. ok is false when there is nothing to remember; err says why the
// request is refused (a replay, or the memory is full).
func (v *Verifier) rememberInMemory(method string, sent int64, nonce string, sig []byte, now time.Time) (e replayEntry, ok bool, err error) {
	var key, reason string
	switch {
	case nonce != "":
		key, reason = "n:"+nonce, ReasonNonceReused
	case !safeMethod(method):
		// The decoded bytes, not the header: an upper-case copy of the hex
		// must count as the same signature.
		key, reason = "s:"+string(sig), ReasonReplayed
	default:
		return replayEntry{}, false, nil
	}
	// What is remembered is a digest: 32 bytes whatever the nonce, and
	// the same in memory and in the replay log.
	digest := sha256.Sum256([]byte(key))
	key = string(digest[:])
	// Remember until the timestamp has left the window, plus a second for
	// the whole-second comparison above.
	exp := time.Unix(sent, 0).Add(v.window + time.Second)
	switch v.replay.add(key, exp, now) {
	case replayDuplicate:
		return replayEntry{}, false, &AuthError{Reason: reason}
	case replayFull:
		return replayEntry{}, false, &AuthError{Reason: ReasonReplayCacheFull}
	}
	return replayEntry{key: key, exp: exp}, true, nil
}

// signer returns the secret under which sig is the MAC of the request,
// over any accepted form of the path, or nil when there is none.
func (v *Verifier) signer(r *http.Request, body []byte, ts, nonce string, sig []byte) []byte {
	paths := requestPaths(r)
	for _, secret := range *v.secrets.Load() {
		for _, p := range paths {
			if hmac.Equal(mac(secret, r.Method, p, body, ts, nonce), sig) {
				return secret
			}
		}
	}
	return nil
}

// requestPaths returns the distinct path forms a client may have signed.
func requestPaths(r *http.Request) []string {
	var forms [3]string
	forms[0] = r.RequestURI
	if r.URL != nil {
		if forms[0] == "" { // a request made in-process, not read off the wire
			forms[0] = r.URL.RequestURI()
		}
		forms[1] = r.URL.Path
		forms[2] = r.URL.EscapedPath()
	}
	out := make([]string, 0, len(forms))
	for _, f := range forms {
		if f != "" && !contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseTimestamp parses decimal Unix seconds: ASCII digits only, no sign,
// no spaces, at most what fits an int64.
func parseTimestamp(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// safeMethod reports whether method is one that must not change state
// (RFC 9110 §9.2.1). Methods are case-sensitive: "get" is not GET and, like
// every other method, gets replay protection.
func safeMethod(method string) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}
