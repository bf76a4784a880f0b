package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// signedRequest is one request signed by hand with secret, without a
// nonce, so that sending it twice is an exact replay.
type signedRequest struct {
	method, path string
	body         []byte
	ts, sig      string
}

func signWith(secret, method, path string, body []byte) signedRequest {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return signedRequest{method, path, body, ts, agentapi.Sign([]byte(secret), method, path, body, ts, "")}
}

// send sends r to the agent at url and returns the status and the error
// text of the answer ("" for none).
func (r signedRequest) send(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(r.method, url+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.body) == 0 {
		req.Body, req.ContentLength = nil, 0
	}
	req.Header.Set(agentapi.HeaderTimestamp, r.ts)
	req.Header.Set(agentapi.HeaderSignature, r.sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e agentapi.ErrorResponse
	_ = json.Unmarshal(data, &e)
	return resp.StatusCode, e.Error
}

// status is the status of a fresh signed GET /v1/wg/wg0 with secret.
func status(t *testing.T, url, secret string) int {
	t.Helper()
	code, _ := signWith(secret, http.MethodGet, "/v1/wg/wg0", nil).send(t, url)
	return code
}

func offerBody(t *testing.T, signing, next string) []byte {
	t.Helper()
	sealed, err := agentapi.SealSecret([]byte(signing), []byte(next))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(agentapi.RotateSecretRequest{SealedSecret: sealed})
	return body
}

// TestSecretRotation: a real agent takes a new secret by offer and
// confirm, with the raw signed requests of the wire contract; replays of
// both are refused; the old secret is refused afterwards and after a
// restart, the new one accepted.
func TestSecretRotation(t *testing.T) {
	dir := t.TempDir()
	a := agenttest.Start(t, agenttest.Options{StateDir: dir})
	old, next := a.Secret, agenttest.RandomSecret()
	h, err := a.Client(t).Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !h.HasCapability(agentapi.CapSecretRotation) {
		t.Fatalf("capabilities %v lack %s", h.Capabilities, agentapi.CapSecretRotation)
	}
	if got := status(t, a.URL, next); got != http.StatusUnauthorized {
		t.Fatalf("the new secret before the offer: %d, want 401", got)
	}

	offer := signWith(old, http.MethodPost, agentapi.PathSecretRotate, offerBody(t, old, next))
	if code, msg := offer.send(t, a.URL); code != http.StatusOK {
		t.Fatalf("offer: %d %s", code, msg)
	}
	if code, msg := offer.send(t, a.URL); code != http.StatusUnauthorized || !strings.HasPrefix(msg, "replayed request") {
		t.Errorf("the offer replayed: %d %q, want 401 replayed request", code, msg)
	}
	for _, s := range []string{old, next} {
		if got := status(t, a.URL, s); got != http.StatusOK {
			t.Errorf("between offer and confirm, a request signed with the %s secret: %d", map[bool]string{true: "old", false: "new"}[s == old], got)
		}
	}

	if code, msg := signWith(old, http.MethodPost, agentapi.PathSecretConfirm, nil).send(t, a.URL); code != http.StatusConflict {
		t.Errorf("confirm signed with the old secret: %d %q, want 409", code, msg)
	}
	confirm := signWith(next, http.MethodPost, agentapi.PathSecretConfirm, nil)
	if code, msg := confirm.send(t, a.URL); code != http.StatusOK {
		t.Fatalf("confirm: %d %s", code, msg)
	}
	if code, msg := confirm.send(t, a.URL); code != http.StatusUnauthorized || !strings.HasPrefix(msg, "replayed request") {
		t.Errorf("the confirm replayed: %d %q, want 401 replayed request", code, msg)
	}
	if code, msg := signWith(old, http.MethodGet, "/v1/wg/wg0", nil).send(t, a.URL); code != http.StatusUnauthorized || msg != agentapi.ReasonBadSignature {
		t.Errorf("the old secret after the confirm: %d %q, want 401 %q", code, msg, agentapi.ReasonBadSignature)
	}
	if got := status(t, a.URL, next); got != http.StatusOK {
		t.Errorf("the new secret after the confirm: %d", got)
	}
	st, err := os.Stat(filepath.Join(dir, agent.SecretsFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v, mode %v", err, st.Mode())
	}

	// The configuration still names the old secret; the restarted agent
	// refuses it all the same.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	b := agenttest.Start(t, agenttest.Options{StateDir: dir, Secret: old})
	if got := status(t, b.URL, old); got != http.StatusUnauthorized {
		t.Errorf("the old secret after a restart: %d, want 401", got)
	}
	if got := status(t, b.URL, next); got != http.StatusOK {
		t.Errorf("the new secret after a restart: %d, want 200", got)
	}
	// The replay log outlives the restart as well.
	if code, _ := confirm.send(t, b.URL); code != http.StatusUnauthorized {
		t.Errorf("the confirm replayed after a restart: %d, want 401", code)
	}
}

// TestSecretRotationInterrupted: the agent restarts between offer and
// confirm; both secrets are still accepted and the confirm finishes the
// rotation. The offer's client is agentapi.Client, as the controller's.
func TestSecretRotationInterrupted(t *testing.T) {
	dir := t.TempDir()
	a := agenttest.Start(t, agenttest.Options{StateDir: dir})
	old, next := a.Secret, agenttest.RandomSecret()
	ctx := context.Background()
	st, err := a.Client(t).OfferSecret(ctx, []byte(old), []byte(next))
	if err != nil || st.Status != agentapi.RotationPending {
		t.Fatalf("offer: %+v, %v", st, err)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	b := agenttest.Start(t, agenttest.Options{StateDir: dir, Secret: old})
	for _, s := range []string{old, next} {
		if got := status(t, b.URL, s); got != http.StatusOK {
			t.Errorf("after a restart between offer and confirm: %d", got)
		}
	}
	c := b.Client(t)
	if st, err := c.ConfirmSecret(ctx, []byte(next)); err != nil || st.Status != agentapi.RotationConfirmed {
		t.Fatalf("confirm after restart: %+v, %v", st, err)
	}
	// A confirm repeated (its answer lost) is still a success.
	if _, err := c.ConfirmSecret(ctx, []byte(next)); err != nil {
		t.Errorf("repeated confirm: %v", err)
	}
	if got := status(t, b.URL, old); got != http.StatusUnauthorized {
		t.Errorf("the old secret after the confirm: %d, want 401", got)
	}
}

func TestSecretOfferRefusals(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	old := a.Secret
	other := agenttest.RandomSecret()
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"sealed with another secret", offerBody(t, other, agenttest.RandomSecret()), "sealed_secret is not a secret sealed"},
		{"not base64", []byte(`{"sealed_secret":"%%%"}`), "sealed_secret is not a secret sealed"},
		{"missing", []byte(`{}`), `"sealed_secret" is required`},
		{"unknown field", []byte(`{"sealed_secret":"x","secret":"y"}`), `unknown field "secret"`},
		{"too short", offerBody(t, old, "short"), "offered secret is 5 bytes"},
		{"placeholder", offerBody(t, old, agentapi.PlaceholderSecret), "placeholder"},
		{"with a space", offerBody(t, old, "has a space 0123456789"), "not printable ASCII"},
		{"the current secret", offerBody(t, old, old), "already accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := signWith(old, http.MethodPost, agentapi.PathSecretRotate, tc.body).send(t, a.URL)
			if code != http.StatusBadRequest && code != http.StatusConflict || !strings.Contains(msg, tc.want) {
				t.Errorf("%d %q, want 400 or 409 saying %q", code, msg, tc.want)
			}
		})
	}
	if got := status(t, a.URL, old); got != http.StatusOK {
		t.Errorf("after refused offers the secret gets %d", got)
	}
	_, err := a.Client(t).ConfirmSecret(context.Background(), []byte(old))
	if !errors.Is(err, agentapi.ErrConflict) || !strings.Contains(err.Error(), "no secret rotation is pending") {
		t.Errorf("confirm with nothing pending: %v", err)
	}
}
