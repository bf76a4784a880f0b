package agentapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

const testNow = 1_700_000_000

var testSecret = []byte("test-secret")

func newTestVerifier(t *testing.T, clock *testenv.Clock, cfg agentapi.VerifierConfig) *agentapi.Verifier {
	t.Helper()
	if cfg.Secrets == nil {
		cfg.Secrets = [][]byte{testSecret}
	}
	cfg.Now = clock.Now
	v, err := agentapi.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// signed is a request as a client builds it: target is what goes on the
// request line, signPath what the client signed.
type signed struct {
	method, target, signPath, body string
	ts                             string
	nonce                          string
	secret                         []byte
}

// request returns the request as a server reads it off the wire, plus its
// body, after signing it as described.
func (s signed) request() (*http.Request, []byte) {
	if s.method == "" {
		s.method = http.MethodGet
	}
	if s.signPath == "" {
		s.signPath = s.target
	}
	if s.ts == "" {
		s.ts = strconv.FormatInt(testNow, 10)
	}
	if s.secret == nil {
		s.secret = testSecret
	}
	var body []byte
	if s.body != "" {
		body = []byte(s.body)
	}
	r := httptest.NewRequest(s.method, s.target, strings.NewReader(s.body))
	r.Header.Set(agentapi.HeaderTimestamp, s.ts)
	r.Header.Set(agentapi.HeaderSignature, agentapi.Sign(s.secret, s.method, s.signPath, body, s.ts, s.nonce))
	if s.nonce != "" {
		r.Header.Set(agentapi.HeaderNonce, s.nonce)
	}
	return r, body
}

// wantReason checks that err is an *AuthError with the given reason, or nil
// when reason is "".
func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("Verify = %v, want nil", err)
		}
		return
	}
	var ae *agentapi.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("Verify = %v (%T), want *AuthError %q", err, err, reason)
	}
	if ae.Reason != reason {
		t.Fatalf("Verify reason = %q, want %q", ae.Reason, reason)
	}
	if !errors.Is(err, agentapi.ErrUnauthorized) {
		t.Errorf("errors.Is(%v, ErrUnauthorized) = false", err)
	}
}

func TestVerifyOnce(t *testing.T) {
	const key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
	ts := strconv.FormatInt(testNow, 10)
	tests := []struct {
		name   string
		req    signed
		mutate func(r *http.Request)
		want   string
	}{
		{name: "GET health", req: signed{target: "/health"}},
		{name: "POST with body", req: signed{method: "POST", target: "/wg/wg0/peers", body: `{"public_key":"abc="}`}},
		{name: "DELETE", req: signed{method: "DELETE", target: "/wg/wg0/peers/" + key}},
		{name: "nonce", req: signed{target: "/health", nonce: "abcdefghijklmnop"}},
		{name: "upper-case hex signature", req: signed{target: "/health"}, mutate: func(r *http.Request) {
			r.Header.Set(agentapi.HeaderSignature, strings.ToUpper(r.Header.Get(agentapi.HeaderSignature)))
		}},

		// The path forms.
		{name: "raw target with query", req: signed{target: "/v1/wg/wg0/peers?x=1&y=%2F"}},
		{name: "decoded path without query", req: signed{target: "/v1/wg/wg0/peers?x=1", signPath: "/v1/wg/wg0/peers"}},
		{name: "percent-encoded key, raw target", req: signed{method: "PUT", target: "/wg/wg0/peers/xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg%3D"}},
		{name: "percent-encoded key, decoded path", req: signed{method: "PUT",
			target:   "/wg/wg0/peers/a%2Fb%2Bc%3D",
			signPath: "/wg/wg0/peers/a/b+c="}},
		{name: "percent-encoded key with query, escaped path", req: signed{method: "PUT",
			target:   "/wg/wg0/peers/a%2Fb%2Bc%3D?force=1",
			signPath: "/wg/wg0/peers/a%2Fb%2Bc%3D"}},
		{name: "raw slashes in key", req: signed{method: "DELETE", target: "/wg/wg0/peers/ab/cd+ef/gh="}},
		{name: "other path signed", req: signed{target: "/wg/wg0/dump", signPath: "/wg/wg1/dump"}, want: agentapi.ReasonBadSignature},
		{name: "query signed but decoded path sent", req: signed{target: "/health", signPath: "/health?x=1"}, want: agentapi.ReasonBadSignature},

		// Rejections.
		{name: "missing timestamp", req: signed{target: "/health"}, mutate: func(r *http.Request) {
			r.Header.Del(agentapi.HeaderTimestamp)
		}, want: agentapi.ReasonMissingTimestamp},
		{name: "missing signature", req: signed{target: "/health"}, mutate: func(r *http.Request) {
			r.Header.Del(agentapi.HeaderSignature)
		}, want: agentapi.ReasonMissingSignature},
		{name: "empty signature", req: signed{target: "/health"}, mutate: func(r *http.Request) {
			r.Header.Set(agentapi.HeaderSignature, "")
		}, want: agentapi.ReasonMissingSignature},
		{name: "stale", req: signed{target: "/health", ts: strconv.FormatInt(testNow-301, 10)}, want: agentapi.ReasonStaleTimestamp},
		{name: "edge of window in the past", req: signed{target: "/health", ts: strconv.FormatInt(testNow-300, 10)}},
		{name: "edge of window in the future", req: signed{target: "/health", ts: strconv.FormatInt(testNow+300, 10)}},
		{name: "future", req: signed{target: "/health", ts: strconv.FormatInt(testNow+301, 10)}, want: agentapi.ReasonStaleTimestamp},
		{name: "zero timestamp", req: signed{target: "/health", ts: "0"}, want: agentapi.ReasonStaleTimestamp},
		{name: "huge timestamp", req: signed{target: "/health", ts: "9223372036854775807"}, want: agentapi.ReasonStaleTimestamp},
		{name: "overflowing timestamp", req: signed{target: "/health", ts: "9223372036854775808"}, want: agentapi.ReasonBadTimestamp},
		{name: "non-numeric timestamp", req: signed{target: "/health", ts: "yesterday"}, want: agentapi.ReasonBadTimestamp},
		{name: "signed timestamp", req: signed{target: "/health", ts: "+" + ts}, want: agentapi.ReasonBadTimestamp},
		{name: "negative timestamp", req: signed{target: "/health", ts: "-1"}, want: agentapi.ReasonBadTimestamp},
		{name: "fractional timestamp", req: signed{target: "/health", ts: ts + ".5"}, want: agentapi.ReasonBadTimestamp},
		{name: "timestamp with space", req: signed{target: "/health", ts: ts + " "}, want: agentapi.ReasonBadTimestamp},
		{name: "wrong secret", req: signed{target: "/health", secret: []byte("other")}, want: agentapi.ReasonBadSignature},
		{name: "body changed", req: signed{method: "POST", target: "/wg/wg0/peers", body: `{}`}, mutate: func(r *http.Request) {
			r.Header.Set(agentapi.HeaderSignature, agentapi.Sign(testSecret, "POST", "/wg/wg0/peers", []byte(`{ }`), ts, ""))
		}, want: agentapi.ReasonBadSignature},
		{name: "method changed", req: signed{method: "DELETE", target: "/wg/wg0/peers/" + key}, mutate: func(r *http.Request) {
			r.Method = "GET"
		}, want: agentapi.ReasonBadSignature},
		{name: "non-hex signature", req: signed{target: "/health"}, mutate: func(r *http.Request) {
			r.Header.Set(agentapi.HeaderSignature, strings.Repeat("zz", 32))
		}, want: agentapi.ReasonBadSignature},
		{name: "short signature", req: signed{target: "/health"}, mutate: func(r *http.Request) {
			r.Header.Set(agentapi.HeaderSignature, r.Header.Get(agentapi.HeaderSignature)[:62])
		}, want: agentapi.ReasonBadSignature},
		{name: "nonce added after signing", req: signed{target: "/health"}, mutate: func(r *http.Request) {
			r.Header.Set(agentapi.HeaderNonce, "abcdefghijklmnop")
		}, want: agentapi.ReasonBadSignature},
		{name: "nonce removed after signing", req: signed{target: "/health", nonce: "abcdefghijklmnop"}, mutate: func(r *http.Request) {
			r.Header.Del(agentapi.HeaderNonce)
		}, want: agentapi.ReasonBadSignature},
		{name: "nonce too short", req: signed{target: "/health", nonce: "short"}, want: agentapi.ReasonBadNonce},
		{name: "nonce bad character", req: signed{target: "/health", nonce: "abcdefghijklmnop|"}, want: agentapi.ReasonBadNonce},
		{name: "nonce too long", req: signed{target: "/health", nonce: strings.Repeat("n", 65)}, want: agentapi.ReasonBadNonce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, testenv.NewClock(time.Unix(testNow, 0)), agentapi.VerifierConfig{})
			r, body := tt.req.request()
			if tt.mutate != nil {
				tt.mutate(r)
			}
			err := v.Verify(r, body)
			wantReason(t, err, tt.want)
			if err != nil {
				good := agentapi.Sign(testSecret, r.Method, r.RequestURI, body, r.Header.Get(agentapi.HeaderTimestamp), r.Header.Get(agentapi.HeaderNonce))
				if strings.Contains(strings.ToLower(err.Error()), good) {
					t.Errorf("error %q echoes the expected signature", err)
				}
			}
		})
	}
}

func TestVerifyReplay(t *testing.T) {
	const nonce = "abcdefghijklmnop"
	tests := []struct {
		name        string
		first, then signed
		want        string
	}{
		{name: "POST repeated", first: signed{method: "POST", target: "/wg/wg0/peers", body: "{}"}, want: agentapi.ReasonReplayed},
		{name: "PUT repeated", first: signed{method: "PUT", target: "/v1/wg/wg0/peers", body: `{"peers":[]}`}, want: agentapi.ReasonReplayed},
		{name: "DELETE repeated", first: signed{method: "DELETE", target: "/wg/wg0/peers/a%2Fb"}, want: agentapi.ReasonReplayed},
		{name: "PATCH repeated", first: signed{method: "PATCH", target: "/x"}, want: agentapi.ReasonReplayed},
		{name: "lower-case method repeated", first: signed{method: "post", target: "/x"}, want: agentapi.ReasonReplayed},
		{name: "GET repeated without nonce", first: signed{target: "/health"}},
		{name: "HEAD repeated without nonce", first: signed{method: "HEAD", target: "/health"}},
		{name: "POST signed again with new timestamp", first: signed{method: "POST", target: "/x"},
			then: signed{method: "POST", target: "/x", ts: strconv.FormatInt(testNow+1, 10)}},
		{name: "nonce reused on GET", first: signed{target: "/health", nonce: nonce}, want: agentapi.ReasonNonceReused},
		{name: "nonce reused on POST", first: signed{method: "POST", target: "/x", nonce: nonce}, want: agentapi.ReasonNonceReused},
		{name: "nonce reused on another request", first: signed{target: "/health", nonce: nonce},
			then: signed{method: "POST", target: "/wg/wg0/peers", body: "{}", nonce: nonce}, want: agentapi.ReasonNonceReused},
		{name: "fresh nonce", first: signed{target: "/health", nonce: nonce},
			then: signed{target: "/health", nonce: nonce + "2"}},
		{name: "same POST through another path form", first: signed{method: "PUT", target: "/wg/wg0/peers/a%2Fb?x", signPath: "/wg/wg0/peers/a/b"},
			then: signed{method: "PUT", target: "/wg/wg0/peers/a/b", signPath: "/wg/wg0/peers/a/b"}, want: agentapi.ReasonReplayed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, testenv.NewClock(time.Unix(testNow, 0)), agentapi.VerifierConfig{})
			r, body := tt.first.request()
			wantReason(t, v.Verify(r, body), "")
			then := tt.then
			if then.target == "" {
				then = tt.first
			}
			r, body = then.request()
			wantReason(t, v.Verify(r, body), tt.want)
		})
	}
}

func TestVerifyReplayUpperCaseSignature(t *testing.T) {
	v := newTestVerifier(t, testenv.NewClock(time.Unix(testNow, 0)), agentapi.VerifierConfig{})
	s := signed{method: "POST", target: "/x", body: "{}"}
	r, body := s.request()
	wantReason(t, v.Verify(r, body), "")
	r, body = s.request()
	r.Header.Set(agentapi.HeaderSignature, strings.ToUpper(r.Header.Get(agentapi.HeaderSignature)))
	wantReason(t, v.Verify(r, body), agentapi.ReasonReplayed)
}

func TestVerifyBadSignatureIsNotRemembered(t *testing.T) {
	v := newTestVerifier(t, testenv.NewClock(time.Unix(testNow, 0)), agentapi.VerifierConfig{MaxEntries: 1})
	const nonce = "abcdefghijklmnop"
	bad := signed{method: "POST", target: "/x", nonce: nonce, secret: []byte("wrong")}
	for range 3 {
		r, body := bad.request()
		wantReason(t, v.Verify(r, body), agentapi.ReasonBadSignature)
	}
	// Neither the nonce nor the cache slot was taken by the forgeries.
	r, body := signed{method: "POST", target: "/x", nonce: nonce}.request()
	wantReason(t, v.Verify(r, body), "")
}

func TestVerifyReplayAfterWindow(t *testing.T) {
	clock := testenv.NewClock(time.Unix(testNow, 0))
	v := newTestVerifier(t, clock, agentapi.VerifierConfig{Window: 10 * time.Second})
	s := signed{method: "POST", target: "/x"}
	r, body := s.request()
	wantReason(t, v.Verify(r, body), "")
	clock.Advance(10 * time.Second)
	r, body = s.request()
	wantReason(t, v.Verify(r, body), agentapi.ReasonReplayed)
	clock.Advance(time.Second)
	r, body = s.request()
	wantReason(t, v.Verify(r, body), agentapi.ReasonStaleTimestamp)
}

func TestVerifyReplayFutureTimestamp(t *testing.T) {
	// A request stamped in the future stays acceptable until its timestamp
	// leaves the window, so it must be remembered that long.
	clock := testenv.NewClock(time.Unix(testNow, 0))
	v := newTestVerifier(t, clock, agentapi.VerifierConfig{Window: 10 * time.Second, MaxEntries: 1})
	s := signed{method: "POST", target: "/x", ts: strconv.FormatInt(testNow+10, 10)}
	r, body := s.request()
	wantReason(t, v.Verify(r, body), "")
	clock.Advance(20 * time.Second)
	r, body = s.request()
	wantReason(t, v.Verify(r, body), agentapi.ReasonReplayed)
}

func TestVerifyReplayCacheFull(t *testing.T) {
	clock := testenv.NewClock(time.Unix(testNow, 0))
	v := newTestVerifier(t, clock, agentapi.VerifierConfig{Window: 10 * time.Second, MaxEntries: 2})
	post := func(path, ts string) signed {
		return signed{method: "POST", target: path, ts: ts}
	}
	now := strconv.FormatInt(testNow, 10)
	for _, p := range []string{"/a", "/b"} {
		r, body := post(p, now).request()
		wantReason(t, v.Verify(r, body), "")
	}

	// Full of live entries: a new state-changing request or nonce is refused,
	// not admitted by evicting /a (whose replay would then succeed).
	r, body := post("/c", now).request()
	wantReason(t, v.Verify(r, body), agentapi.ReasonReplayCacheFull)
	r, body = signed{target: "/health", nonce: "abcdefghijklmnop"}.request()
	wantReason(t, v.Verify(r, body), agentapi.ReasonReplayCacheFull)
	r, body = post("/a", now).request()
	wantReason(t, v.Verify(r, body), agentapi.ReasonReplayed)

	// A GET without nonce needs no memory.
	r, body = signed{target: "/health"}.request()
	wantReason(t, v.Verify(r, body), "")

	// Once the entries expire there is room again.
	clock.Advance(11 * time.Second)
	later := strconv.FormatInt(testNow+11, 10)
	r, body = post("/c", later).request()
	wantReason(t, v.Verify(r, body), "")
}

func TestVerifySecrets(t *testing.T) {
	oldS, newS := []byte("old-secret"), []byte("new-secret")
	v := newTestVerifier(t, testenv.NewClock(time.Unix(testNow, 0)), agentapi.VerifierConfig{Secrets: [][]byte{oldS, newS}})
	check := func(secret []byte, want string) {
		t.Helper()
		r, body := signed{target: "/health", secret: secret}.request()
		wantReason(t, v.Verify(r, body), want)
	}
	check(oldS, "")
	check(newS, "")
	check([]byte("third"), agentapi.ReasonBadSignature)

	if err := v.SetSecrets([][]byte{newS}); err != nil {
		t.Fatalf("SetSecrets: %v", err)
	}
	check(oldS, agentapi.ReasonBadSignature)
	check(newS, "")

	for _, bad := range [][][]byte{nil, {}, {newS, {}}} {
		if err := v.SetSecrets(bad); err == nil {
			t.Errorf("SetSecrets(%q) = nil, want error", bad)
		}
	}
	check(newS, "") // a failed SetSecrets changes nothing

	// The verifier keeps its own copy.
	mine := []byte("mine")
	if err := v.SetSecrets([][]byte{mine}); err != nil {
		t.Fatal(err)
	}
	copy(mine, "xxxx")
	check([]byte("mine"), "")
}

func TestNewVerifierErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  agentapi.VerifierConfig
	}{
		{name: "no secret", cfg: agentapi.VerifierConfig{}},
		{name: "empty secret", cfg: agentapi.VerifierConfig{Secrets: [][]byte{{}}}},
		{name: "negative window", cfg: agentapi.VerifierConfig{Secrets: [][]byte{testSecret}, Window: -time.Second}},
		{name: "negative size", cfg: agentapi.VerifierConfig{Secrets: [][]byte{testSecret}, MaxEntries: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := agentapi.NewVerifier(tt.cfg); err == nil {
				t.Fatal("NewVerifier = nil error")
			}
		})
	}
}

func TestVerifyDefaultClock(t *testing.T) {
	v, err := agentapi.NewVerifier(agentapi.VerifierConfig{Secrets: [][]byte{testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	s := signed{target: "/health", ts: strconv.FormatInt(time.Now().Unix(), 10)}
	r, body := s.request()
	wantReason(t, v.Verify(r, body), "")
	s.ts = strconv.FormatInt(time.Now().Unix()-400, 10)
	r, body = s.request()
	wantReason(t, v.Verify(r, body), agentapi.ReasonStaleTimestamp)
}

func TestVerifyConcurrent(t *testing.T) {
	// The same POST raced from many goroutines is accepted exactly once,
	// while the secrets are being rotated.
	v := newTestVerifier(t, testenv.NewClock(time.Unix(testNow, 0)), agentapi.VerifierConfig{})
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, body := signed{method: "POST", target: "/x", body: "{}"}.request()
			if v.Verify(r, body) == nil {
				ok.Add(1)
			}
			if err := v.SetSecrets([][]byte{testSecret, []byte("other")}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := ok.Load(); got != 1 {
		t.Fatalf("accepted %d times, want 1", got)
	}
}

// FuzzVerify: whatever the headers, path and body, Verify does not panic,
// fails only with a known *AuthError that does not echo the signature,
// accepts only a request signed with the secret over one of the accepted
// path forms, accepts every such fresh request, and refuses its replay.
func FuzzVerify(f *testing.F) {
	ts := strconv.FormatInt(testNow, 10)
	f.Add("GET", "/health", []byte(nil), ts, "", "", true, uint8(0))
	f.Add("POST", "/wg/wg0/peers", []byte(`{"public_key":"abc="}`), ts, "", "", true, uint8(1))
	f.Add("PUT", "/wg/wg0/peers/a%2Fb%2B%3D?x=1", []byte(`{}`), ts, "abcdefghijklmnop", "", true, uint8(1))
	f.Add("DELETE", "/wg/wg0/peers/a/b+c=", []byte(nil), ts, "", "", true, uint8(2))
	f.Add("GET", "/health", []byte(nil), ts, "", strings.Repeat("0", 64), false, uint8(0))
	f.Add("GET", "/health", []byte(nil), "+1700000000", "short", "zz", true, uint8(0))
	f.Add("", "/health", []byte(nil), ts, "", "", true, uint8(0))
	f.Fuzz(func(t *testing.T, method, target string, body []byte, ts, nonce, sig string, sign bool, form uint8) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http never hands such a request to a handler
		}
		forms := []string{target, u.Path, u.EscapedPath()}
		if sign {
			sig = agentapi.Sign(testSecret, method, forms[int(form)%len(forms)], body, ts, nonce)
		}
		r := &http.Request{Method: method, URL: u, RequestURI: target, Header: http.Header{}}
		r.Header.Set(agentapi.HeaderTimestamp, ts)
		r.Header.Set(agentapi.HeaderSignature, sig)
		r.Header.Set(agentapi.HeaderNonce, nonce)

		v := newTestVerifier(t, testenv.NewClock(time.Unix(testNow, 0)), agentapi.VerifierConfig{})
		err = v.Verify(r, body)

		signedRight := false
		for _, p := range forms {
			if good := agentapi.Sign(testSecret, method, p, body, ts, nonce); strings.EqualFold(sig, good) {
				signedRight = true
			}
			if err != nil && strings.Contains(strings.ToLower(err.Error()), agentapi.Sign(testSecret, method, p, body, ts, nonce)) {
				t.Fatalf("error %q echoes the signature", err)
			}
		}
		n, tsErr := strconv.ParseUint(ts, 10, 63)
		fresh := tsErr == nil && strings.TrimLeft(ts, "0123456789") == "" &&
			n+300 >= testNow && n <= testNow+300 &&
			(nonce == "" || agentapi.ValidNonce(nonce))

		if err == nil {
			if !signedRight {
				t.Fatalf("accepted a request not signed with the secret: %s %q sig %q", method, target, sig)
			}
			if !fresh {
				t.Fatalf("accepted timestamp %q nonce %q", ts, nonce)
			}
		} else {
			var ae *agentapi.AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Verify = %v (%T), want *AuthError", err, err)
			}
			switch ae.Reason {
			case agentapi.ReasonMissingTimestamp, agentapi.ReasonMissingSignature, agentapi.ReasonStaleTimestamp,
				agentapi.ReasonBadTimestamp, agentapi.ReasonBadNonce, agentapi.ReasonBadSignature:
			default:
				t.Fatalf("fresh verifier: unexpected reason %q", ae.Reason)
			}
			if signedRight && fresh && ts != "" {
				t.Fatalf("refused a fresh, rightly signed request (%s %q ts %q nonce %q): %v", method, target, ts, nonce, err)
			}
			return
		}

		again := v.Verify(r, body)
		switch method {
		case "", "GET", "HEAD", "OPTIONS", "TRACE": // "" is GET to net/http
			if nonce == "" {
				if again != nil {
					t.Fatalf("repeat of a safe request without nonce: %v", again)
				}
				return
			}
		}
		var ae *agentapi.AuthError
		if !errors.As(again, &ae) || (ae.Reason != agentapi.ReasonReplayed && ae.Reason != agentapi.ReasonNonceReused) {
			t.Fatalf("replay of %s with nonce %q: %v", method, nonce, again)
		}
	})
}
