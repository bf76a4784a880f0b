package agentapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

func TestSealSecret(t *testing.T) {
	signing, secret := []byte("signing-secret-0123456789"), []byte("the-next-secret-0123456789")
	sealed, err := agentapi.SealSecret(signing, secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, string(secret)) {
		t.Fatal("the sealed secret shows the secret")
	}
	again, _ := agentapi.SealSecret(signing, secret)
	if again == sealed {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	got, err := agentapi.OpenSecret(signing, sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("OpenSecret = %q, %v", got, err)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1
	for name, tc := range map[string]struct {
		signing []byte
		sealed  string
	}{
		"another signing secret": {[]byte("signing-secret-0123456780"), sealed},
		"tampered":               {signing, string(tampered)},
		"truncated":              {signing, sealed[:8]},
		"empty":                  {signing, ""},
	} {
		if _, err := agentapi.OpenSecret(tc.signing, tc.sealed); !errors.Is(err, agentapi.ErrSealedSecret) || !errors.Is(err, agentapi.ErrBadRequest) {
			t.Errorf("%s: %v, want ErrSealedSecret", name, err)
		}
	}
}

func TestCheckRotatedSecret(t *testing.T) {
	for _, tc := range []struct {
		name, secret string
		ok           bool
	}{
		{"hex", agenttest.RandomSecret(), true},
		{"printable", "Ab0!~#not-first-0123", true},
		{"short", "0123456789", false},
		{"placeholder", agentapi.PlaceholderSecret, false},
		{"space", "0123456789 0123456789", false},
		{"newline", "0123456789\n0123456789", false},
		{"comment", "#0123456789abcdef0123", false},
		{"non-ASCII", "0123456789abcdef€", false},
		{"too long", strings.Repeat("a", agentapi.MaxRotatedSecretLen+1), false},
	} {
		if err := agentapi.CheckRotatedSecret([]byte(tc.secret)); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func FuzzOpenSecret(f *testing.F) {
	signing := []byte("signing-secret-0123456789")
	sealed, _ := agentapi.SealSecret(signing, []byte("the-next-secret-0123456789"))
	f.Add(sealed)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := agentapi.OpenSecret(signing, s); err != nil && !errors.Is(err, agentapi.ErrSealedSecret) {
			t.Fatalf("an error that is not ErrSealedSecret: %v", err)
		}
	})
}

func FuzzDecodeRotateSecret(f *testing.F) {
	f.Add([]byte(`{"sealed_secret":"AAAA"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := agentapi.DecodeRotateSecret(data)
		if err == nil && req.SealedSecret == "" {
			t.Fatal("decoded an empty sealed_secret")
		}
		if err != nil && !errors.Is(err, agentapi.ErrBadRequest) {
			t.Fatalf("an error that is not ErrBadRequest: %v", err)
		}
	})
}

// TestClientFallbackSecrets: a Client signs with its first secret and, on
// a 401, with each other; a single-secret Client does not repeat.
func TestClientFallbackSecrets(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	ctx := context.Background()
	var sent atomic.Int32
	hc := &http.Client{Transport: countingTransport{&sent}}
	wrong := []byte(agenttest.RandomSecret())

	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: a.URL, Secret: wrong, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Interface(ctx, "wg0"); !errors.Is(err, agentapi.ErrUnauthorized) {
		t.Fatalf("a wrong secret alone: %v, want 401", err)
	}
	if n := sent.Load(); n != 2 { // Health to learn the capabilities, then the call
		t.Errorf("a single-secret client sent %d requests, want 2 (no repeat)", n)
	}

	if err := c.SetSecrets(wrong, []byte(a.Secret)); err != nil {
		t.Fatal(err)
	}
	sent.Store(0)
	if _, err := c.Interface(ctx, "wg0"); err != nil {
		t.Fatalf("with the agent's secret as fallback: %v", err)
	}
	if n := sent.Load(); n < 2 {
		t.Errorf("%d requests sent, want the 401 and its repeat", n)
	}
	if err := c.SetSecrets(nil); err == nil {
		t.Error("SetSecrets(nil) succeeded")
	}
	if err := c.SetSecrets([]byte(a.Secret), nil); err == nil {
		t.Error("SetSecrets with an empty fallback succeeded")
	}
}

// TestClientRequestInFlightDuringConfirm: a request signed with the old
// secret reaches the agent only after the rotation was confirmed and the
// Client given the new secret; it is refused with 401 and signed again
// with the new secret, so the caller sees a success.
func TestClientRequestInFlightDuringConfirm(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	ctx := context.Background()
	old, next := []byte(a.Secret), []byte(agenttest.RandomSecret())
	var c *agentapi.Client
	var once sync.Once
	hc := &http.Client{Transport: hookTransport(func(r *http.Request) {
		if r.Method != http.MethodPut {
			return
		}
		// The PUT is signed with the old secret and on its way: finish
		// the rotation before it arrives.
		once.Do(func() {
			rc := a.Client(t)
			if _, err := rc.OfferSecret(ctx, old, next); err != nil {
				t.Errorf("offer: %v", err)
			}
			if _, err := rc.ConfirmSecret(ctx, next); err != nil {
				t.Errorf("confirm: %v", err)
			}
			if err := c.SetSecrets(next); err != nil {
				t.Error(err)
			}
		})
	})}
	var err error
	c, err = agentapi.NewClient(agentapi.ClientConfig{BaseURL: a.URL, Secret: old, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SyncPeers(ctx, "wg0", agentapi.SyncRequest{}); err != nil {
		t.Fatalf("the request in flight during the confirm failed: %v", err)
	}
	if _, err := a.Client(t).Interface(ctx, "wg0"); !errors.Is(err, agentapi.ErrUnauthorized) {
		t.Errorf("the old secret after the rotation: %v, want 401", err)
	}
}

type countingTransport struct{ n *atomic.Int32 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// hookTransport calls its function before each request is sent.
type hookTransport func(*http.Request)

func (h hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h(r)
	return http.DefaultTransport.RoundTrip(r)
}
