package agenttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

func newKey(t *testing.T) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey()
}

// outcome is what one call came to: the answer's status and error text,
// or the value it returned.
func outcome(v any, err error) string {
	var ae *agentapi.APIError
	switch {
	case errors.As(err, &ae):
		return fmt.Sprintf("%d %s", ae.StatusCode, ae.Message)
	case err != nil:
		return "no answer: " + err.Error()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "unprintable: " + err.Error()
	}
	return string(b)
}

// TestFakeAnswersLikeTheAgent holds the fake to the real agent: the same
// calls, in the same order, get the same answers from both.
func TestFakeAnswersLikeTheAgent(t *testing.T) {
	a, b, c := newKey(t), newKey(t), newKey(t)
	psk := newKey(t).String()
	ips := func(s ...string) []string { return s }
	ka := func(v int) *int { return &v }
	zero := wgtypes.Key{}.String()
	mapped := "::ffff:10.0.0.8/128"
	script := func(ctx context.Context, cl *agentapi.Client, base, secret string) []string {
		var out []string
		// The interface keys of the two differ: answers naming it say "OWN".
		info, err := cl.Interface(ctx, "wg0")
		if err != nil {
			return []string{"interface: " + err.Error()}
		}
		own := info.PublicKey
		do := func(v any, err error) { out = append(out, strings.ReplaceAll(outcome(v, err), own, "OWN")) }
		dump := func() {
			d, err := cl.Dump(ctx, "wg0")
			for i := range d.Peers { // what only a device has
				d.Peers[i].LatestHandshake, d.Peers[i].Endpoint = nil, nil
			}
			// The order of a dump is not part of the contract.
			slices.SortFunc(d.Peers, func(x, y agentapi.Peer) int { return strings.Compare(x.PublicKey, y.PublicKey) })
			do(d, err)
		}
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: a.String(), AllowedIPs: ips("10.0.0.2/32", "fd00::2"), PersistentKeepalive: ka(25)}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: a.String(), AllowedIPs: ips("10.0.0.9/32")}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: b.String(), AllowedIPs: ips("10.0.0.0/30")}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: b.String(), AllowedIPs: ips("10.0.0.5/24")}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: b.String(), AllowedIPs: ips("nonsense")}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: "abc=", AllowedIPs: ips()}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: b.String(), AllowedIPs: ips(), PersistentKeepalive: ka(70000)}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: own, AllowedIPs: ips("10.0.5.0/24")}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: zero, AllowedIPs: ips("10.0.5.0/24")}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: b.String(), AllowedIPs: ips("10.0.6.0/24", mapped)}))
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: b.String(), AllowedIPs: ips("10.0.1.0/24", "10.0.1.0/24"), PresharedKey: &psk}))
		do(nil, cl.UpdatePeer(ctx, "wg0", a, agentapi.UpdatePeerRequest{AllowedIPs: &[]string{"10.0.1.7/32"}}))
		do(nil, cl.UpdatePeer(ctx, "wg0", a, agentapi.UpdatePeerRequest{AllowedIPs: &[]string{"10.0.0.3/32"}, PersistentKeepalive: ka(5)}))
		do(nil, cl.UpdatePeer(ctx, "wg0", c, agentapi.UpdatePeerRequest{PersistentKeepalive: ka(5)}))
		do(nil, cl.UpdatePeer(ctx, "wg0", a, agentapi.UpdatePeerRequest{AllowedIPs: &[]string{mapped}}))
		// A body no agent decodes, for a peer it does not have: the body
		// is refused first.
		do(nil, signedPut(ctx, base, secret, "/wg/wg0/peers/"+url.PathEscape(c.String()), `{"persistent_keepalive": 5, "bogus": true}`))
		do(cl.Peer(ctx, "wg0", a))
		do(cl.Peer(ctx, "wg0", c))
		dump()
		do(cl.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
			{PublicKey: a.String(), AllowedIPs: ips("10.0.0.3/32"), PersistentKeepalive: 5},
			{PublicKey: c.String(), AllowedIPs: ips("10.0.2.0/24")},
			{PublicKey: c.String(), AllowedIPs: ips("10.0.3.0/24")},
		}}))
		do(cl.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
			{PublicKey: a.String(), AllowedIPs: ips("10.0.0.3/32"), PersistentKeepalive: 5},
			{PublicKey: own, AllowedIPs: ips("10.0.2.0/24")},
		}}))
		do(cl.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
			{PublicKey: a.String(), AllowedIPs: ips(mapped)},
		}}))
		do(cl.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
			{PublicKey: a.String(), AllowedIPs: ips("10.0.0.0/16")},
			{PublicKey: c.String(), AllowedIPs: ips("10.0.2.0/24")},
		}}))
		do(cl.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
			{PublicKey: a.String(), AllowedIPs: ips("10.0.0.3/32"), PersistentKeepalive: 5},
			{PublicKey: c.String(), AllowedIPs: ips("10.0.2.0/24")},
		}}))
		dump()
		do(nil, cl.DeletePeer(ctx, "wg0", b))
		do(nil, cl.DeletePeer(ctx, "wg0", b))
		do(cl.Dump(ctx, "wg9"))
		info, err = cl.Interface(ctx, "wg0")
		do(info.PeerCount, err)
		do(cl.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: b.String(), AllowedIPs: ips(), PresharedKey: &psk}))
		return out
	}

	ctx := context.Background()
	real := agenttest.Start(t, agenttest.Options{})
	fake := agenttest.StartFake(t, agenttest.FakeOptions{})
	want, got := script(ctx, real.Client(t), real.URL, real.Secret), script(ctx, fake.Client(t), fake.URL, fake.Secret)
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Errorf("call %d:\nfake:  %s\nagent: %s", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Errorf("fake made %d calls, agent %d", len(got), len(want))
	}
	if k, ok := fake.PresharedKey("wg0", b); !ok || k.String() != psk {
		t.Errorf("fake holds preshared key %v (%v) of b, want %s", k, ok, psk)
	}
}

// signedPut sends body as a PUT of path to the agent at base, signed with
// secret, and returns the answer as the client would: an
// *agentapi.APIError for an error answer.
func signedPut(ctx context.Context, base, secret, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := agenttest.RandomSecret()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(agentapi.HeaderTimestamp, ts)
	req.Header.Set(agentapi.HeaderNonce, nonce)
	req.Header.Set(agentapi.HeaderSignature, agentapi.Sign([]byte(secret), http.MethodPut, req.URL.EscapedPath(), []byte(body), ts, nonce))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var e agentapi.ErrorResponse
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return fmt.Errorf("status %d, undecodable answer: %w", resp.StatusCode, err)
	}
	if resp.StatusCode >= 300 {
		return &agentapi.APIError{StatusCode: resp.StatusCode, Message: e.Error}
	}
	return nil
}

// TestFakeFaults: every fault does what it says, for as many calls as it
// says, and the counters see every call.
func TestFakeFaults(t *testing.T) {
	ctx := context.Background()
	f := agenttest.StartFake(t, agenttest.FakeOptions{})
	c := f.Client(t)
	if _, err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("status", func(t *testing.T) {
		f.Inject(agenttest.OpDump, agenttest.Fault{Status: http.StatusBadGateway, Times: 2})
		for i := range 3 {
			_, err := c.Dump(ctx, "wg0")
			var ae *agentapi.APIError
			if i < 2 && (!errors.As(err, &ae) || ae.StatusCode != http.StatusBadGateway || ae.Message != "Bad Gateway") {
				t.Errorf("dump %d = %v, want 502 Bad Gateway", i, err)
			}
			if i == 2 && err != nil {
				t.Errorf("dump %d after the fault's 2 times = %v", i, err)
			}
		}
	})
	t.Run("drop", func(t *testing.T) {
		// Every call: the client's transport retries an idempotent
		// request whose reused connection was dropped.
		f.Inject(agenttest.OpAny, agenttest.Fault{Drop: true})
		defer f.Clear()
		_, err := c.Dump(ctx, "wg0")
		var ae *agentapi.APIError
		if err == nil || errors.As(err, &ae) {
			t.Errorf("dump over a dropped connection = %v, want an error without an answer", err)
		}
	})
	t.Run("delay", func(t *testing.T) {
		f.Inject(agenttest.OpDump, agenttest.Fault{Delay: time.Hour, Times: 1})
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := c.Dump(dctx, "wg0"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("delayed dump = %v, want the deadline", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("delayed dump took %v", d)
		}
	})
	t.Run("lie", func(t *testing.T) {
		k := newKey(t)
		f.Inject(agenttest.OpAddPeer, agenttest.Fault{Lie: true})
		st, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: k.String(), AllowedIPs: []string{"10.0.0.2/32"}})
		if err != nil || st.Status != "success" {
			t.Fatalf("lying AddPeer = %+v, %v; want it to claim success", st, err)
		}
		if got := f.Peers("wg0"); len(got) != 0 {
			t.Fatalf("lying AddPeer applied: %+v", got)
		}
		_, err = c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: "abc=", AllowedIPs: []string{}})
		if !errors.Is(err, agentapi.ErrBadRequest) {
			t.Errorf("lying AddPeer of a bad key = %v, want 400 still", err)
		}
		f.Clear()
		if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: k.String(), AllowedIPs: []string{"10.0.0.2/32"}}); err != nil {
			t.Fatal(err)
		}
		if got := f.Peers("wg0"); len(got) != 1 {
			t.Fatalf("AddPeer after Clear: peers %+v", got)
		}
	})
	t.Run("counters", func(t *testing.T) {
		f.Reset()
		var wg sync.WaitGroup
		// Each dump is held long enough that the three overlap even on a
		// starved machine (100 ms did not always suffice under load).
		f.Inject(agenttest.OpDump, agenttest.Fault{Delay: time.Second})
		for range 3 {
			wg.Go(func() { _, _ = c.Dump(ctx, "wg0") })
		}
		wg.Wait()
		f.Clear()
		_ = c.DeletePeer(ctx, "wg0", newKey(t))
		testenv.Equal(t, "Calls(OpDump)", f.Calls(agenttest.OpDump), 3)
		testenv.Equal(t, "Calls(OpDeletePeer)", f.Calls(agenttest.OpDeletePeer), 1)
		testenv.Equal(t, "Calls(OpAny)", f.Calls(agenttest.OpAny), 4)
		testenv.Equal(t, "MaxInFlight", f.MaxInFlight(), 3)
		reqs := f.Requests()
		testenv.Equal(t, "last status", reqs[len(reqs)-1].Status, http.StatusNotFound)
	})
}

// TestFakeDialects: where the emulated agent serves its endpoints and which
// path form its signature covers.
func TestFakeDialects(t *testing.T) {
	k := newKey(t)
	for !strings.ContainsAny(k.String(), "+/") {
		k = newKey(t)
	}
	tests := []struct {
		name    string
		dialect agenttest.Dialect
		// status of: bare dump, /v1 peer list, a DELETE signed over the
		// raw target, the same signed over the decoded path
		bare, v1, raw, decoded int
	}{
		{"ours", agenttest.Dialect{}, 200, 200, 404, 404},
		{"bare only, raw target", agenttest.Dialect{Paths: agenttest.PathsBare, Signing: agenttest.SignRawTarget}, 200, 404, 404, 401},
		{"v1 only, decoded path", agenttest.Dialect{Paths: agenttest.PathsV1, Signing: agenttest.SignDecodedPath}, 404, 200, 401, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := agenttest.StartFake(t, agenttest.FakeOptions{Dialect: tt.dialect, Capabilities: []string{}})
			status := func(method, target, signed string) int {
				return signedStatus(t, f, method, target, signed, time.Now())
			}
			stale := time.Now().Add(-agentapi.DefaultWindow - time.Minute)
			testenv.Equal(t, "GET /health signed long ago", signedStatus(t, f, "GET", "/health", "/health", stale), 401)
			testenv.Equal(t, "GET /health", status("GET", "/health", "/health"), 200)
			testenv.Equal(t, "GET /wg/wg0/dump", status("GET", "/wg/wg0/dump", "/wg/wg0/dump"), tt.bare)
			testenv.Equal(t, "GET /v1/wg/wg0/peers", status("GET", "/v1/wg/wg0/peers", "/v1/wg/wg0/peers"), tt.v1)
			prefix := "/wg/wg0/peers/"
			if tt.dialect.Paths == agenttest.PathsV1 {
				prefix = "/v1" + prefix
			}
			escaped := prefix + agentapi.EscapeKey(k)
			decoded := prefix + k.String()
			testenv.Equal(t, "DELETE signed over the raw target", status("DELETE", escaped+"?x=1", escaped+"?x=1"), tt.raw)
			testenv.Equal(t, "DELETE signed over the decoded path", status("DELETE", escaped+"?x=2", decoded), tt.decoded)
		})
	}
}

// signedStatus sends method target to f, signed over the path signed at
// time at, and returns the answer's status.
func signedStatus(t *testing.T, f *agenttest.Fake, method, target, signed string, at time.Time) int {
	t.Helper()
	req, err := http.NewRequest(method, f.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := fmt.Sprint(at.Unix())
	req.Header.Set(agentapi.HeaderTimestamp, ts)
	req.Header.Set(agentapi.HeaderSignature, agentapi.Sign([]byte(f.Secret), method, signed, nil, ts, ""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
