package agenttest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// signedCall sends one request signed over path as given (no nonce) and
// returns the status and body.
func signedCall(t *testing.T, f *agenttest.Fake, method, path, body string) (int, string) {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequest(method, f.URL+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(agentapi.HeaderTimestamp, ts)
	req.Header.Set(agentapi.HeaderSignature, agentapi.Sign([]byte(f.Secret), method, path, []byte(body), ts, ""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func keyWithSlash(t *testing.T, slash bool) wgtypes.Key {
	for {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(k.PublicKey().String(), "/") == slash {
			return k.PublicKey()
		}
	}
}

// TestReferenceAgentQuirks: the reference agent's dialect behaves as issue
// 11 describes it.
func TestReferenceAgentQuirks(t *testing.T) {
	f := agenttest.StartFake(t, agenttest.FakeOptions{Dialect: agenttest.ReferenceAgent(), Capabilities: []string{}})
	slash, plain := keyWithSlash(t, true), keyWithSlash(t, false)
	psk := keyWithSlash(t, false).String()
	for _, k := range []wgtypes.Key{slash, plain} {
		body := `{"public_key":"` + k.String() + `","allowed_ips":["10.0.0.` + strconv.Itoa(int(k[0])%200+2) + `/32"],"preshared_key":"` + psk + `"}`
		if st, b := signedCall(t, f, "POST", "/wg/wg0/peers", body); st != http.StatusCreated {
			t.Fatalf("POST: %d %s", st, b)
		}
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		answer                   string
	}{
		{"PUT of a key with '/'", "PUT", "/wg/wg0/peers/" + slash.String(), `{"persistent_keepalive":5}`, 404, `{"error":"Not found"}`},
		{"DELETE of a key with '/'", "DELETE", "/wg/wg0/peers/" + slash.String(), "", 404, `{"error":"Not found"}`},
		{"percent-encoded key not decoded", "DELETE", "/wg/wg0/peers/" + strings.ReplaceAll(plain.String(), "=", "%3D"), "", 404, `{"error":"Not found"}`},
		{"DELETE of an unknown key", "DELETE", "/wg/wg0/peers/" + keyWithSlash(t, false).String(), "", 200, ""},
		{"/v1 not served", "GET", "/v1/wg/wg0/dump", "", 404, `{"error":"Not found"}`},
	}
	for _, tt := range tests {
		st, b := signedCall(t, f, tt.method, tt.path, tt.body)
		if st != tt.status || (tt.answer != "" && b != tt.answer) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, st, b, tt.status, tt.answer)
		}
	}
	// PUT ignores the preshared key; POST of an existing key updates it.
	other := keyWithSlash(t, false).String()
	if st, b := signedCall(t, f, "PUT", "/wg/wg0/peers/"+plain.String(), `{"preshared_key":"`+other+`","persistent_keepalive":7}`); st != 200 {
		t.Fatalf("PUT: %d %s", st, b)
	}
	if got, _ := f.PresharedKey("wg0", plain); got.String() != psk {
		t.Errorf("PUT changed the preshared key")
	}
	if st, b := signedCall(t, f, "POST", "/wg/wg0/peers", `{"public_key":"`+slash.String()+`","allowed_ips":["10.0.9.9/32"],"preshared_key":"`+other+`"}`); st != 200 {
		t.Fatalf("POST of an existing key: %d %s", st, b)
	}
	if got, _ := f.PresharedKey("wg0", slash); got.String() != other {
		t.Errorf("POST of an existing key did not update its preshared key")
	}
	// PUT of an unknown key creates it.
	fresh := keyWithSlash(t, false)
	if st, b := signedCall(t, f, "PUT", "/wg/wg0/peers/"+fresh.String(), `{"allowed_ips":["10.0.8.8/32"]}`); st != 200 {
		t.Fatalf("PUT of an unknown key: %d %s", st, b)
	}
	// The dump shows preshared keys (null for none), keepalive 0 for off.
	st, b := signedCall(t, f, "GET", "/wg/wg0/dump", "")
	var d agentapi.Dump
	if err := json.Unmarshal([]byte(b), &d); st != 200 || err != nil {
		t.Fatalf("dump: %d %s", st, b)
	}
	shown := map[string]*string{}
	for _, p := range d.Peers {
		shown[p.PublicKey] = p.PresharedKey
	}
	if p := shown[plain.String()]; p == nil || *p != psk {
		t.Errorf("dump preshared key of %s: %v, want %s", plain, p, psk)
	}
	if p, ok := shown[fresh.String()]; !ok || p != nil {
		t.Errorf("dump preshared key of a peer without one: %v (listed %v), want null", p, ok)
	}
}

// TestProductionAgentQuirks: the production agent's dialect serves /v1
// only, answers as FastAPI does, and serves its extra calls.
func TestProductionAgentQuirks(t *testing.T) {
	f := agenttest.StartFake(t, agenttest.FakeOptions{Dialect: agenttest.ProductionAgent(), Capabilities: []string{}})
	k := keyWithSlash(t, true)
	tests := []struct {
		name, method, path, body string
		status                   int
		answer                   string
	}{
		{"health bare", "GET", "/health", "", 200, ""},
		{"bare /wg/ not served", "GET", "/wg/wg0/dump", "", 404, `{"detail":"Not Found"}`},
		{"a body that does not validate", "POST", "/v1/wg/wg0/peers", `{"public_key":"nope"}`, 422, `{"detail":[`},
		{"add under /v1", "POST", "/v1/wg/wg0/peers", `{"public_key":"` + k.String() + `","allowed_ips":["10.0.0.2/32"]}`, 201, ""},
		{"unknown peer", "DELETE", "/v1/wg/wg0/peers/" + keyWithSlash(t, false).String(), "", 404, `{"detail":"peer `},
		{"status", "GET", "/v1/status", "", 200, `"wg0":{"active_peers":0,"peer_count":1`},
		{"metrics", "GET", "/v1/metrics", "", 200, `wireguard_peers_total{interface="wg0"} 1`},
		{"config", "GET", "/v1/wg/wg0/config", "", 200, k.String()},
	}
	for _, tt := range tests {
		st, b := signedCall(t, f, tt.method, tt.path, tt.body)
		if st != tt.status || !strings.Contains(b, tt.answer) {
			t.Errorf("%s: %d %s, want %d containing %s", tt.name, st, b, tt.status, tt.answer)
		}
	}
}
