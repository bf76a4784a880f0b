package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// syncBody is a replace-all body of n peers, 172.16.0.0/12 + i each,
// with random keys; fat ones also have a preshared key and an IPv6
// address, for a large body with fewer peers (each costs the device a
// Curve25519 computation).
func syncBody(t testing.TB, n int, fat bool) []byte {
	t.Helper()
	req := agentapi.SyncRequest{Peers: make([]agentapi.PeerSpec, n)}
	raw := make([]byte, 32*n)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	for i := range req.Peers {
		var k wgtypes.Key
		copy(k[:], raw[32*i:])
		v := 0xac100000 + i
		req.Peers[i] = agentapi.PeerSpec{PublicKey: k.String(), AllowedIPs: []string{fmt.Sprintf("%d.%d.%d.%d/32", v>>24, v>>16&255, v>>8&255, v&255)}}
		if fat {
			psk := k.String() // any key will do
			req.Peers[i].PresharedKey = &psk
			req.Peers[i].AllowedIPs = append(req.Peers[i].AllowedIPs, fmt.Sprintf("fd00:1234:5678::%x/128", i))
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// bulkCall sends body to PUT /v1/wg/wg0/peers signed as a bulk request
// over digest (the body's own unless given), with nonce.
func bulkCall(t *testing.T, a *agenttest.Agent, method, path string, body []byte, digest, nonce string) (int, []byte) {
	t.Helper()
	if digest == "" {
		d := sha256.Sum256(body)
		digest = hex.EncodeToString(d[:])
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequest(method, a.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(agentapi.HeaderTimestamp, ts)
	if nonce != "" {
		req.Header.Set(agentapi.HeaderNonce, nonce)
	}
	req.Header.Set(agentapi.HeaderContentSHA256, digest)
	req.Header.Set(agentapi.HeaderSignature, agentapi.Sign([]byte(a.Secret), method, path, []byte("sha256="+digest), ts, nonce))
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// TestBulkReplaceAll: an agent advertises bulk bodies and their limit; the
// client signs a replace-all over 1 MiB as bulk and the agent takes it
// whole. A bulk body that does not match its digest, a bulk request
// without a nonce or with a reused one, a bulk body on another route, and
// an unsigned-as-bulk body over 1 MiB are refused, and none changes the
// peers.
func TestBulkReplaceAll(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	// Thousands of peers under -race on a loaded machine take minutes.
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: a.URL, Secret: []byte(a.Secret), HTTPClient: &http.Client{Timeout: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !h.HasCapability(agentapi.CapBulkBody) || h.MaxBulkBodyBytes != agentapi.MaxBulkBodyBytes || c.MaxBodyBytes() != agentapi.MaxBulkBodyBytes {
		t.Fatalf("health advertises %v, max bulk %d; client takes %d", h.Capabilities, h.MaxBulkBodyBytes, c.MaxBodyBytes())
	}
	const n = 6000 // about 1.2 MiB of JSON
	body := syncBody(t, n, true)
	if len(body) <= agentapi.MaxBodyBytes {
		t.Fatalf("body of %d bytes is not over the 1 MiB limit", len(body))
	}
	var req agentapi.SyncRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	res, err := c.SyncPeers(ctx, "wg0", req)
	if err != nil || res.Added != n {
		t.Fatalf("bulk replace-all: %+v, %v", res, err)
	}

	other := syncBody(t, n, true)
	nonce := agenttest.RandomSecret()[:32]
	tests := []struct {
		name, method, path, digest, nonce string
		body                              []byte
		status                            int
		says                              string
	}{
		{"digest of another body", "PUT", "/v1/wg/wg0/peers", hex.EncodeToString(make([]byte, 32)), agenttest.RandomSecret()[:32], other, http.StatusUnauthorized, agentapi.ReasonBulkDigest},
		{"no nonce", "PUT", "/v1/wg/wg0/peers", "", "", other, http.StatusUnauthorized, agentapi.ReasonBulkHeaders},
		{"upper-case digest", "PUT", "/v1/wg/wg0/peers", strings.Repeat("AB", 32), agenttest.RandomSecret()[:32], other, http.StatusUnauthorized, agentapi.ReasonBulkHeaders},
		{"not a bulk route", "POST", "/v1/wg/wg0/syncconf", "", agenttest.RandomSecret()[:32], other, http.StatusBadRequest, "bulk body"},
		{"first use of a nonce", "PUT", "/v1/wg/wg0/peers", "", nonce, body, http.StatusOK, ""},
		{"nonce reused", "PUT", "/v1/wg/wg0/peers", "", nonce, other, http.StatusUnauthorized, agentapi.ReasonNonceReused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := bulkCall(t, a, tt.method, tt.path, tt.body, tt.digest, tt.nonce)
			if status != tt.status || !strings.Contains(string(out), tt.says) {
				t.Fatalf("%d %s, want %d saying %q", status, out, tt.status, tt.says)
			}
		})
	}
	// Signed the ordinary way, a body over 1 MiB is too large even here.
	status, out := rawCall(t, a, "PUT", "/v1/wg/wg0/peers", other)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), agentapi.HeaderContentSHA256) {
		t.Fatalf("unsigned-as-bulk body of %d bytes: %d %s, want 413 naming %s", len(other), status, out, agentapi.HeaderContentSHA256)
	}
	if got := len(dumpOf(t, a).Peers); got != n {
		t.Fatalf("%d peers after the refusals, want %d", got, n)
	}
}

// TestBulkHeadersCheckedBeforeBody: a bulk request whose signature does
// not match is refused before a byte of its body is read (here the body
// never comes), and one that matches but announces more than the bulk
// limit is 413 at once: bodies over 1 MiB are read only once
// authenticated.
func TestBulkHeadersCheckedBeforeBody(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	send := func(size int, secret string) *http.Response {
		c, err := net.Dial("tcp", a.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		digest := hex.EncodeToString(make([]byte, 32))
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		nonce := agenttest.RandomSecret()[:32]
		sig := agentapi.Sign([]byte(secret), "PUT", "/v1/wg/wg0/peers", []byte("sha256="+digest), ts, nonce)
		fmt.Fprintf(c, "PUT /v1/wg/wg0/peers HTTP/1.1\r\nHost: agent\r\nContent-Length: %d\r\n%s: %s\r\n%s: %s\r\n%s: %s\r\n%s: %s\r\n\r\n{\"pe",
			size, agentapi.HeaderTimestamp, ts, agentapi.HeaderNonce, nonce, agentapi.HeaderContentSHA256, digest, agentapi.HeaderSignature, sig)
		return answer(t, c, 10*time.Second)
	}
	if resp := send(8<<20, agenttest.RandomSecret()); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bulk request under a wrong secret: %d, want 401 before the body", resp.StatusCode)
	}
	if resp := send(agentapi.MaxBulkBodyBytes+1, a.Secret); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("bulk request over the limit: %d, want 413 before the body", resp.StatusCode)
	}
}

// TestReplaceAllOverTheDeviceCap: a replace-all of more peers than a
// wireguard-go device holds is refused up front, naming the cap, and
// changes nothing.
func TestReplaceAllOverTheDeviceCap(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: a.URL, Secret: []byte(a.Secret), HTTPClient: &http.Client{Timeout: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: mustKey(t).String(), AllowedIPs: []string{"10.99.0.2/32"}}); err != nil {
		t.Fatal(err)
	}
	var req agentapi.SyncRequest
	if err := json.Unmarshal(syncBody(t, tunnel.MaxPeers+1, false), &req); err != nil {
		t.Fatal(err)
	}
	_, err = c.SyncPeers(ctx, "wg0", req)
	if err == nil || !strings.Contains(err.Error(), strconv.Itoa(tunnel.MaxPeers)) {
		t.Fatalf("replace-all of %d peers: %v, want a refusal naming %d", len(req.Peers), err, tunnel.MaxPeers)
	}
	if got := len(dumpOf(t, a).Peers); got != 1 {
		t.Fatalf("%d peers after the refused replace-all, want 1", got)
	}
}
