package agent_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// Issue 11 item 4: white space around allowed_ips entries is trimmed, and an
// entry may be a comma-separated list, as `wg set … allowed-ips` takes it.
func TestAllowedIPsLiberalAsWg(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	tests := []struct {
		name    string
		allowed string // the JSON array
		want    []string
	}{
		{"spaces around entries", `[" 10.0.2.2/32 ", "\tfd00::2/128"]`, []string{"10.0.2.2/32", "fd00::2/128"}},
		{"one entry as wg set takes it", `["10.0.2.3/32, fd00::3/128"]`, []string{"10.0.2.3/32", "fd00::3/128"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustKey(t)
			body := []byte(`{"public_key": "` + k.String() + `", "allowed_ips": ` + tt.allowed + `}`)
			if status, out := rawCall(t, a, "POST", "/wg/wg0/peers", body); status != http.StatusCreated {
				t.Fatalf("POST: %d %s", status, out)
			}
			var got []string
			for _, p := range dumpOf(t, a).Peers {
				if p.PublicKey == k.String() {
					got = p.AllowedIPs
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("dump allowed_ips = %q, want %q", got, tt.want)
			}
		})
	}

	// Still refused: an empty part, and garbage around a comma.
	k := mustKey(t)
	for _, bad := range []string{`["10.0.2.9/32,"]`, `["10.0.2.9/32, ,fd00::9/128"]`, `[" "]`, `["10.0.2.9/32; fd00::9/128"]`} {
		body := []byte(`{"public_key": "` + k.String() + `", "allowed_ips": ` + bad + `}`)
		status, out := rawCall(t, a, "POST", "/wg/wg0/peers", body)
		if status != http.StatusBadRequest || !strings.Contains(errorText(t, out), "allowed_ips[0]") {
			t.Errorf("allowed_ips %s: %d %s, want 400 naming allowed_ips[0]", bad, status, out)
		}
	}
	// PUT trims too.
	status, out := rawCall(t, a, "POST", "/wg/wg0/peers", []byte(`{"public_key": "`+k.String()+`", "allowed_ips": []}`))
	if status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, out)
	}
	status, out = rawCall(t, a, "PUT", "/wg/wg0/peers/"+k.String(), []byte(`{"allowed_ips": ["10.0.2.4/32 , fd00::4/128 "]}`))
	if status != http.StatusOK {
		t.Fatalf("PUT: %d %s", status, out)
	}
	for _, p := range dumpOf(t, a).Peers {
		if p.PublicKey == k.String() && !slices.Equal(p.AllowedIPs, []string{"10.0.2.4/32", "fd00::4/128"}) {
			t.Fatalf("after PUT allowed_ips = %q", p.AllowedIPs)
		}
	}
}

// Issue 11 item 5: a client without nonces that repeats an identical write
// within the same second is refused as a replay, and the error says so and
// how to repeat a request; doing what it says works.
func TestRepeatWithinSecondSaysHowToRepeat(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	body := []byte(`{"public_key": "` + mustKey(t).String() + `", "allowed_ips": ["10.0.3.2/32"]}`)
	send := func(nonce string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest("POST", a.URL+"/wg/wg0/peers", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(agentapi.HeaderTimestamp, ts)
		if nonce != "" {
			req.Header.Set(agentapi.HeaderNonce, nonce)
		}
		req.Header.Set(agentapi.HeaderSignature, agentapi.Sign([]byte(a.Secret), "POST", "/wg/wg0/peers", body, ts, nonce))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	if status, out := send(""); status != http.StatusCreated {
		t.Fatalf("first POST: %d %s", status, out)
	}
	status, out := send("")
	if status != http.StatusUnauthorized {
		t.Fatalf("identical POST in the same second: %d %s, want 401", status, out)
	}
	msg := errorText(t, out)
	for _, want := range []string{"replayed request", "already accepted", "to repeat a request", "X-Nonce", "later timestamp"} {
		if !strings.Contains(msg, want) {
			t.Errorf("replay error %q does not say %q", msg, want)
		}
	}
	if !strings.HasPrefix(msg, "replayed request") {
		t.Errorf("replay error %q does not begin with the contract's \"replayed request\"", msg)
	}
	// Following the advice: the same request with a nonce is not a replay
	// (it reaches the handler, which finds the peer already there).
	status, out = send(agenttest.RandomSecret()[:24])
	if status != http.StatusConflict {
		t.Fatalf("same POST with a fresh X-Nonce: %d %s, want 409 (accepted as new, peer exists)", status, out)
	}
}
