package agent_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/internal/version"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// rawCall sends a signed request with exactly the given path on the request
// line (no client-side escaping) and returns status and body.
func rawCall(t *testing.T, a *agenttest.Agent, method, path string, body []byte) (int, []byte) {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequest(method, a.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // sent verbatim on the request line
	if len(body) == 0 {
		req.Body, req.ContentLength = nil, 0
	}
	// A fresh nonce per call: the agent rejects an exact repeat of a signed
	// write inside the window, and two calls can fall in the same second.
	nonce := agenttest.RandomSecret()[:32]
	req.Header.Set(agentapi.HeaderTimestamp, ts)
	req.Header.Set(agentapi.HeaderNonce, nonce)
	req.Header.Set(agentapi.HeaderSignature, agentapi.Sign([]byte(a.Secret), method, path, body, ts, nonce))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func mustKey(t *testing.T) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey()
}

// slashKey returns a public key whose standard base64 holds a '/'.
func slashKey(t *testing.T) wgtypes.Key {
	t.Helper()
	for {
		k := mustKey(t)
		if strings.Contains(k.String(), "/") {
			return k
		}
	}
}

func dumpOf(t *testing.T, a *agenttest.Agent) agentapi.Dump {
	t.Helper()
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func errorText(t *testing.T, body []byte) string {
	t.Helper()
	var e agentapi.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Fatalf("error body is not {\"error\": ...}: %s", body)
	}
	return e.Error
}

func TestSeedPeerLifecycleBothPathFamilies(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	for _, prefix := range []string{"", "/v1"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			k := slashKey(t)
			body := []byte(`{"public_key": "` + k.String() + `", "allowed_ips": ["10.0.1.2/32"], "persistent_keepalive": 25}`)
			if prefix == "/v1" {
				body = []byte(`{"public_key": "` + k.String() + `", "allowed_ips": ["10.0.1.3/32"], "preshared_key": null}`)
			}
			status, out := rawCall(t, a, "POST", prefix+"/wg/wg0/peers", body)
			if status != http.StatusCreated {
				t.Fatalf("POST: %d %s", status, out)
			}
			var sr agentapi.StatusResponse
			if err := json.Unmarshal(out, &sr); err != nil {
				t.Fatalf("POST body %s: %v", out, err)
			}
			testenv.Equal(t, "POST status", sr.Status, "success")
			testenv.Equal(t, "POST message", sr.Message, "Peer added successfully")
			if sr.Peer == nil {
				t.Errorf("POST body %s has no peer", out)
			} else {
				testenv.Equal(t, "POST peer.public_key", sr.Peer.PublicKey, k.String())
			}
			if t.Failed() {
				t.FailNow()
			}
			status, out = rawCall(t, a, "POST", prefix+"/wg/wg0/peers", body)
			if status != http.StatusConflict {
				t.Fatalf("second POST: %d %s, want 409", status, out)
			}

			// The seed's controller puts raw standard base64 in the path, slash and all.
			status, out = rawCall(t, a, "PUT", prefix+"/wg/wg0/peers/"+k.String(), []byte(`{"persistent_keepalive": 10}`))
			if status != http.StatusOK || !bytes.Contains(out, []byte("Peer updated successfully")) {
				t.Fatalf("PUT raw key: %d %s", status, out)
			}
			found := false
			for _, p := range dumpOf(t, a).Peers {
				if p.PublicKey == k.String() {
					found = true
					if p.PersistentKeepalive != 10 {
						t.Errorf("keepalive = %d, want 10", p.PersistentKeepalive)
					}
					if p.PresharedKey != nil {
						t.Error("dump carries a preshared key")
					}
				}
			}
			if !found {
				t.Fatal("peer missing from dump")
			}
			status, out = rawCall(t, a, "DELETE", prefix+"/wg/wg0/peers/"+url.PathEscape(k.String()), nil)
			if status != http.StatusOK || !bytes.Contains(out, []byte("Peer removed successfully")) {
				t.Fatalf("DELETE: %d %s", status, out)
			}
			status, out = rawCall(t, a, "DELETE", prefix+"/wg/wg0/peers/"+base64.URLEncoding.EncodeToString(k[:]), nil)
			if status != http.StatusNotFound {
				t.Fatalf("DELETE again (base64url): %d %s, want 404", status, out)
			}
		})
	}
}

func TestPathKeyForms(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	k := slashKey(t)
	if status, out := rawCall(t, a, "POST", "/wg/wg0/peers", []byte(`{"public_key":"`+k.String()+`","allowed_ips":["10.0.1.9/32"]}`)); status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, out)
	}
	std := k.String()
	forms := map[string]string{
		"raw":           std,
		"percent":       strings.NewReplacer("/", "%2F", "+", "%2B", "=", "%3D").Replace(std),
		"percent lower": strings.NewReplacer("/", "%2f", "+", "%2b", "=", "%3d").Replace(std),
		"base64url":     base64.URLEncoding.EncodeToString(k[:]),
		"base64url raw": base64.RawURLEncoding.EncodeToString(k[:]),
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			status, out := rawCall(t, a, "GET", "/v1/wg/wg0/peers/"+form, nil)
			if status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", form, status, out)
			}
			var p agentapi.Peer
			if err := json.Unmarshal(out, &p); err != nil || p.PublicKey != std {
				t.Fatalf("peer: %s", out)
			}
		})
	}
	for _, bad := range []string{"abc", "AAAA%2F", strings.Repeat("A", 44), "not//a/key"} {
		if status, out := rawCall(t, a, "GET", "/v1/wg/wg0/peers/"+bad, nil); status != http.StatusBadRequest {
			t.Errorf("GET bad key %q: %d %s, want 400", bad, status, out)
		}
	}
}

func TestRejectedRequestsChangeNothing(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	k1, k2 := mustKey(t), mustKey(t)
	if status, out := rawCall(t, a, "POST", "/wg/wg0/peers", []byte(`{"public_key":"`+k1.String()+`","allowed_ips":["10.0.1.0/24"]}`)); status != http.StatusCreated {
		t.Fatalf("setup: %d %s", status, out)
	}
	before := dumpOf(t, a)
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"not json", "POST", "/wg/wg0/peers", `{"public_key":`, 400},
		{"wrong type", "POST", "/wg/wg0/peers", `{"public_key":"` + k2.String() + `","allowed_ips":"10.0.2.1/32"}`, 400},
		{"bad key", "POST", "/wg/wg0/peers", `{"public_key":"abc=","allowed_ips":["10.0.2.1/32"]}`, 400},
		{"missing key", "POST", "/wg/wg0/peers", `{"allowed_ips":["10.0.2.1/32"]}`, 400},
		{"bad cidr", "POST", "/wg/wg0/peers", `{"public_key":"` + k2.String() + `","allowed_ips":["10.0.2.1/40"]}`, 400},
		{"host bits", "POST", "/wg/wg0/peers", `{"public_key":"` + k2.String() + `","allowed_ips":["10.0.2.1/24"]}`, 400},
		{"bad psk", "POST", "/wg/wg0/peers", `{"public_key":"` + k2.String() + `","allowed_ips":["10.0.2.1/32"],"preshared_key":"x"}`, 400},
		{"keepalive range", "POST", "/wg/wg0/peers", `{"public_key":"` + k2.String() + `","allowed_ips":["10.0.2.1/32"],"persistent_keepalive":70000}`, 400},
		{"overlap", "POST", "/wg/wg0/peers", `{"public_key":"` + k2.String() + `","allowed_ips":["10.0.1.7/32"]}`, 409},
		{"unknown iface", "POST", "/wg/wg9/peers", `{"public_key":"` + k2.String() + `","allowed_ips":["10.0.2.1/32"]}`, 404},
		{"update unknown peer", "PUT", "/wg/wg0/peers/" + k2.String(), `{"persistent_keepalive":5}`, 404},
		{"update bad cidr", "PUT", "/wg/wg0/peers/" + k1.String(), `{"allowed_ips":["nope"]}`, 400},
		{"delete unknown", "DELETE", "/wg/wg0/peers/" + k2.String(), ``, 404},
		{"sync overlap", "PUT", "/v1/wg/wg0/peers", `{"peers":[{"public_key":"` + k1.String() + `","allowed_ips":["10.0.0.0/16"]},{"public_key":"` + k2.String() + `","allowed_ips":["10.0.3.1/32"]}]}`, 409},
		{"sync duplicate", "PUT", "/v1/wg/wg0/peers", `{"peers":[{"public_key":"` + k2.String() + `","allowed_ips":[]},{"public_key":"` + k2.String() + `","allowed_ips":[]}]}`, 400},
		{"sync one bad", "PUT", "/v1/wg/wg0/peers", `{"peers":[{"public_key":"` + k2.String() + `","allowed_ips":["10.0.3.1/32"]},{"public_key":"bad","allowed_ips":[]}]}`, 400},
		{"unknown endpoint", "GET", "/wg/wg0/nothing", ``, 404},
		{"method not allowed", "PATCH", "/wg/wg0/peers", ``, 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out := rawCall(t, a, c.method, c.path, []byte(c.body))
			if status != c.status {
				t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, status, out, c.status)
			}
			if msg := errorText(t, out); strings.Contains(msg, a.Secret) {
				t.Fatal("error echoes the secret")
			}
		})
	}
	after := dumpOf(t, a)
	bj, _ := json.Marshal(before.Peers)
	aj, _ := json.Marshal(after.Peers)
	if !bytes.Equal(bj, aj) {
		t.Fatalf("rejected requests changed the peers:\nbefore %s\nafter  %s", bj, aj)
	}
}

func TestUnsignedAndBadlySigned(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	resp, err := http.Get(a.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Fatalf("/healthz: %d %s", resp.StatusCode, body)
	}
	send := func(ts, sig string) (int, string) {
		req, _ := http.NewRequest("GET", a.URL+"/health", nil)
		if ts != "" {
			req.Header.Set(agentapi.HeaderTimestamp, ts)
		}
		if sig != "" {
			req.Header.Set(agentapi.HeaderSignature, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			return resp.StatusCode, ""
		}
		return resp.StatusCode, errorText(t, b)
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	good := agentapi.Sign([]byte(a.Secret), "GET", "/health", nil, now, "")
	for name, c := range map[string][2]string{
		"no headers":   {"", ""},
		"no signature": {now, ""},
		"stale":        {stale, agentapi.Sign([]byte(a.Secret), "GET", "/health", nil, stale, "")},
		"wrong secret": {now, agentapi.Sign([]byte("another-secret-entirely"), "GET", "/health", nil, now, "")},
	} {
		if status, msg := send(c[0], c[1]); status != 401 || strings.Contains(msg, good) {
			t.Errorf("%s: %d %q", name, status, msg)
		}
	}
	if status, _ := send(now, good); status != 200 {
		t.Fatalf("good signature: %d", status)
	}
	// The seed's rule for writes: the same signed POST twice is a replay.
	postBody := []byte(`{"public_key":"` + mustKey(t).String() + `","allowed_ips":[]}`)
	sig := agentapi.Sign([]byte(a.Secret), "POST", "/wg/wg0/peers", postBody, now, "")
	for i, want := range []int{201, 401} {
		req, _ := http.NewRequest("POST", a.URL+"/wg/wg0/peers", bytes.NewReader(postBody))
		req.Header.Set(agentapi.HeaderTimestamp, now)
		req.Header.Set(agentapi.HeaderSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 401 && errorText(t, b) != agentapi.ReasonReplayed) {
			t.Fatalf("POST #%d: %d %s, want %d", i+1, resp.StatusCode, b, want)
		}
	}
}

func TestHealthAndInterfaceInfo(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	c := a.Client(t)
	ctx := context.Background()
	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || h.Timestamp == 0 {
		t.Fatalf("health: %+v", h)
	}
	if want := version.Get().Version; h.Version != want {
		t.Errorf("health version = %q, want this build's %q", h.Version, want)
	}
	for _, cp := range []string{agentapi.CapNonce, agentapi.CapPeerSync, agentapi.CapInterfaceInfo} {
		if !h.HasCapability(cp) {
			t.Errorf("capability %s missing", cp)
		}
	}
	if h.Environment == nil || h.Environment.Mode != "netstack" || h.Environment.Reason == "" {
		t.Errorf("environment: %+v", h.Environment)
	}
	if len(h.Interfaces) != 1 || h.Interfaces[0].Name != "wg0" || h.Interfaces[0].Mode != "netstack" {
		t.Fatalf("interfaces: %+v", h.Interfaces)
	}
	info, err := c.Interface(ctx, "wg0")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "interface public_key", info.PublicKey, a.Tunnel("wg0").PublicKey().String())
	testenv.Equal(t, "interface mtu", info.MTU, 1420)
	testenv.Equal(t, "interface addresses", len(info.Addresses), 1)
	if info.ListenPort == 0 {
		t.Error("interface listen_port = 0")
	}
	if t.Failed() {
		t.FailNow()
	}
	status, raw := rawCall(t, a, "GET", "/v1/wg/wg0", nil)
	if status != 200 || bytes.Contains(bytes.ToLower(raw), []byte("private")) {
		t.Fatalf("interface JSON mentions a private key or failed: %d %s", status, raw)
	}
	if _, err := c.Interface(ctx, "nope0"); !errors.Is(err, agentapi.ErrNotFound) {
		t.Fatalf("unknown interface: %v", err)
	}
}

func TestSyncPeers(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	c := a.Client(t)
	ctx := context.Background()
	keys := []wgtypes.Key{mustKey(t), mustKey(t), mustKey(t)}
	conf := func(k wgtypes.Key, ip string, ka int) agentapi.PeerSpec {
		return agentapi.PeerSpec{PublicKey: k.String(), AllowedIPs: []string{ip}, PersistentKeepalive: ka}
	}
	res, err := c.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
		conf(keys[0], "10.0.5.1/32", 0), conf(keys[1], "10.0.5.2/32", 0),
	}})
	if err != nil || res.Added != 2 || res.Removed != 0 {
		t.Fatalf("first sync: %+v %v", res, err)
	}
	res, err = c.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
		conf(keys[1], "10.0.5.2/32", 25), conf(keys[2], "10.0.5.3/32", 0),
	}})
	if err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if !testenv.Equal(t, "second sync", res, agentapi.SyncResult{Status: "success", Added: 1, Updated: 1, Removed: 1}) {
		t.FailNow()
	}
	res, err = c.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
		conf(keys[1], "10.0.5.2/32", 25), conf(keys[2], "10.0.5.3/32", 0),
	}})
	if err != nil || res.Added+res.Updated+res.Removed != 0 || res.Unchanged != 2 {
		t.Fatalf("idempotent sync: %+v %v", res, err)
	}
	d := dumpOf(t, a)
	if len(d.Peers) != 2 {
		t.Fatalf("dump has %d peers, want 2", len(d.Peers))
	}
	res, err = c.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{}})
	if err != nil || res.Removed != 2 || len(dumpOf(t, a).Peers) != 0 {
		t.Fatalf("empty sync: %+v %v", res, err)
	}
}
