package agentapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

const clientSecret = "super-secret-value-123"

// otherKey is a key without "/" beside slashKey. It is no low-order point
// (wgtypes.Key{1} is one), which an agent refuses as a peer's key.
var otherKey = wgtypes.Key{2}

// startFake runs the fake agent with exactly caps in /health (none when
// caps is empty) and the client secret.
func startFake(t *testing.T, caps ...string) *agenttest.Fake {
	t.Helper()
	return agenttest.StartFake(t, agenttest.FakeOptions{Secret: clientSecret, Capabilities: append([]string{}, caps...)})
}

func newTestClient(t *testing.T, baseURL string) *agentapi.Client {
	t.Helper()
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: baseURL, Secret: []byte(clientSecret)})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// checkNoSecret fails if err mentions the secret.
func checkNoSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), clientSecret) {
		t.Fatalf("error %q carries the secret", err)
	}
}

func TestClientRoundTrip(t *testing.T) {
	a := startFake(t, agentapi.CapNonce)
	c := newTestClient(t, a.URL)
	ctx := context.Background()
	key := slashKey
	escaped := "/peers/" + key.String() // raw, as the seed controller sends it

	h, err := c.Health(ctx)
	if err != nil {
		t.Fatalf("Health: %v", err)
	}
	testenv.Equal(t, "Health.Status", h.Status, "ok")
	testenv.Equal(t, "Health has nonce", h.HasCapability(agentapi.CapNonce), true)

	keepalive := 25
	add := agentapi.AddPeerRequest{PublicKey: key.String(), AllowedIPs: []string{"10.0.0.2/32"}, PersistentKeepalive: &keepalive}
	st, err := c.AddPeer(ctx, "wg0", add)
	if err != nil {
		t.Fatalf("AddPeer: %v", err)
	}
	testenv.Equal(t, "AddPeer.Status", st.Status, "success")
	if st.Peer == nil {
		t.Error("AddPeer.Peer = nil")
	} else {
		testenv.Equal(t, "AddPeer.Peer.PublicKey", st.Peer.PublicKey, key.String())
	}
	ips := []string{"10.0.0.3/32"}
	if err := c.UpdatePeer(ctx, "wg0", key, agentapi.UpdatePeerRequest{AllowedIPs: &ips}); err != nil {
		t.Fatalf("UpdatePeer: %v", err)
	}
	p, err := c.Peer(ctx, "wg0", key)
	if err != nil {
		t.Fatalf("Peer: %v", err)
	}
	testenv.Equal(t, "Peer.PublicKey", p.PublicKey, key.String())
	testenv.DeepEqual(t, "Peer.AllowedIPs", p.AllowedIPs, ips)
	d, err := c.Dump(ctx, "wg0")
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	testenv.Equal(t, "Dump.Interface", d.Interface, "wg0")
	testenv.Equal(t, "len(Dump.Peers)", len(d.Peers), 1)
	l, err := c.Peers(ctx, "wg0")
	if err != nil {
		t.Fatalf("Peers: %v", err)
	}
	testenv.Equal(t, "len(Peers.Peers)", len(l.Peers), 1)
	info, err := c.Interface(ctx, "wg0")
	if err != nil {
		t.Fatalf("Interface: %v", err)
	}
	testenv.Equal(t, "Interface.Name", info.Name, "wg0")
	testenv.Equal(t, "Interface.PeerCount", info.PeerCount, 1)
	// The whole set: key as it is, plus one new peer.
	sync := agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
		{PublicKey: key.String(), AllowedIPs: ips, PersistentKeepalive: keepalive},
		{PublicKey: otherKey.String(), AllowedIPs: []string{"10.0.0.4/32"}},
	}}
	res, err := c.SyncPeers(ctx, "wg0", sync)
	if err != nil {
		t.Fatalf("SyncPeers: %v", err)
	}
	testenv.Equal(t, "SyncPeers", res, agentapi.SyncResult{Status: "success", Added: 1, Unchanged: 1})
	if err := c.DeletePeer(ctx, "wg0", key); err != nil {
		t.Fatalf("DeletePeer: %v", err)
	}
	// No peers at all: sent as [], not null, and removes the one left.
	res, err = c.SyncPeers(ctx, "wg0", agentapi.SyncRequest{})
	if err != nil {
		t.Fatalf("SyncPeers: %v", err)
	}
	testenv.Equal(t, "empty SyncPeers", res, agentapi.SyncResult{Status: "success", Removed: 1})
	if t.Failed() {
		t.FailNow()
	}

	addBody, _ := json.Marshal(add)
	updBody, _ := json.Marshal(agentapi.UpdatePeerRequest{AllowedIPs: &ips})
	syncBody, _ := json.Marshal(sync)
	want := []struct{ method, uri, body string }{
		{"GET", "/health", ""},
		{"POST", "/wg/wg0/peers", string(addBody)},
		{"PUT", "/wg/wg0" + escaped, string(updBody)},
		{"GET", "/v1/wg/wg0" + escaped, ""},
		{"GET", "/wg/wg0/dump", ""},
		{"GET", "/v1/wg/wg0/peers", ""},
		{"GET", "/v1/wg/wg0", ""},
		{"PUT", "/v1/wg/wg0/peers", string(syncBody)},
		{"DELETE", "/wg/wg0" + escaped, ""},
		{"PUT", "/v1/wg/wg0/peers", `{"peers":[]}`},
	}
	got := a.Requests()
	if len(got) != len(want) {
		t.Fatalf("agent saw %d requests, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.method || g.RequestURI != w.uri || g.Body != w.body {
			t.Errorf("request %d = %s %s %q, want %s %s %q", i, g.Method, g.RequestURI, g.Body, w.method, w.uri, w.body)
		}
		if !g.SignedTarget {
			t.Errorf("request %d (%s %s): signature is not over the path that reached the agent", i, g.Method, g.RequestURI)
		}
		if (w.body == "") != (g.ContentType == "") {
			t.Errorf("request %d: Content-Type %q with body %q", i, g.ContentType, g.Body)
		}
		if i > 0 && !agentapi.ValidNonce(g.Nonce) {
			t.Errorf("request %d: nonce %q after Health advertised it", i, g.Nonce)
		}
	}
	if got[0].Nonce != "" {
		t.Errorf("first Health sent nonce %q before knowing", got[0].Nonce)
	}
}

func TestClientExactPath(t *testing.T) {
	a := startFake(t)
	c := newTestClient(t, a.URL)
	ctx := context.Background()
	if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: slashKey.String(), AllowedIPs: []string{}}); err != nil {
		t.Fatal(err)
	}
	a.Reset()
	if err := c.DeletePeer(ctx, "wg0", slashKey); err != nil {
		t.Fatalf("DeletePeer of a key with / and +: %v", err)
	}
	got := a.Requests()
	if len(got) != 1 {
		t.Fatalf("requests: %+v", got)
	}
	if want := "/wg/wg0/peers/+/+/AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHP8="; got[0].RequestURI != want {
		t.Fatalf("request target %s, want %s", got[0].RequestURI, want)
	}
	if !got[0].SignedTarget {
		t.Fatal("signature is not over the request target")
	}
}

func TestClientBasePath(t *testing.T) {
	a := agenttest.StartFake(t, agenttest.FakeOptions{Secret: clientSecret, Capabilities: []string{}, Prefix: "/agent%20one"})
	c := newTestClient(t, a.URL+"/")
	if _, err := c.Dump(context.Background(), "wg0"); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	got := a.Requests()
	if len(got) != 2 {
		t.Fatalf("agent saw %d requests, want 2 (health, dump): %+v", len(got), got)
	}
	for i, r := range got {
		if !strings.HasPrefix(r.RequestURI, "/agent%20one/") {
			t.Errorf("request %d: target %q is not under the base path", i, r.RequestURI)
		}
		if strings.Contains(r.RequestURI, "//") {
			t.Errorf("request %d: target %q holds //", i, r.RequestURI)
		}
		if !r.SignedTarget {
			t.Errorf("request %d (%s): signature is not over the request target", i, r.RequestURI)
		}
	}
}

func TestClientNonce(t *testing.T) {
	ctx := context.Background()
	t.Run("learned lazily", func(t *testing.T) {
		a := startFake(t, agentapi.CapPeerSync, agentapi.CapNonce)
		c := newTestClient(t, a.URL)
		for range 2 {
			if _, err := c.Dump(ctx, "wg0"); err != nil {
				t.Fatal(err)
			}
		}
		got := a.Requests()
		if len(got) != 3 || got[0].RequestURI != "/health" || got[0].Nonce != "" {
			t.Fatalf("want one Health probe, then two dumps: %+v", got)
		}
		if !agentapi.ValidNonce(got[1].Nonce) || !agentapi.ValidNonce(got[2].Nonce) || got[1].Nonce == got[2].Nonce {
			t.Fatalf("nonces %q, %q", got[1].Nonce, got[2].Nonce)
		}
		if len(got[1].Nonce) != 32 {
			t.Errorf("nonce %q is not 32 characters", got[1].Nonce)
		}
	})
	t.Run("not advertised", func(t *testing.T) {
		a := startFake(t, agentapi.CapPeerSync)
		c := newTestClient(t, a.URL)
		for range 2 {
			if _, err := c.Dump(ctx, "wg0"); err != nil {
				t.Fatal(err)
			}
		}
		got := a.Requests()
		if len(got) != 3 {
			t.Fatalf("want one Health probe, then two dumps: %+v", got)
		}
		for _, r := range got {
			if r.Nonce != "" {
				t.Fatalf("nonce sent to an agent without the capability: %+v", r)
			}
		}
	})
	t.Run("probe fails", func(t *testing.T) {
		a := startFake(t, agentapi.CapNonce)
		a.Inject(agenttest.OpHealth, agenttest.Fault{Status: http.StatusInternalServerError, Error: "health is broken"})
		c := newTestClient(t, a.URL)
		for range 2 {
			if _, err := c.Dump(ctx, "wg0"); err != nil {
				t.Fatal(err)
			}
		}
		got := a.Requests()
		if len(got) != 4 || got[2].RequestURI != "/health" {
			t.Fatalf("want a probe before each request while Health fails: %+v", got)
		}
		if got[1].Nonce != "" || got[3].Nonce != "" {
			t.Fatalf("nonce sent without knowing: %+v", got)
		}
	})
	t.Run("identical writes are not replays", func(t *testing.T) {
		// The same DELETE twice in one second: with nonces the second
		// reaches the handler (404) instead of being taken for a replay.
		f := startFake(t, agentapi.CapNonce)
		c := newTestClient(t, f.URL)
		for i := range 2 {
			err := c.DeletePeer(ctx, "wg0", slashKey)
			if !errors.Is(err, agentapi.ErrNotFound) {
				t.Fatalf("DeletePeer #%d = %v, want ErrNotFound", i, err)
			}
		}
	})
}

func TestClientErrors(t *testing.T) {
	f := startFake(t, agentapi.CapNonce)
	c := newTestClient(t, f.URL)
	ctx := context.Background()
	if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: slashKey.String(), AllowedIPs: []string{}}); err != nil {
		t.Fatal(err)
	}

	wrongSecret, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: f.URL, Secret: []byte("wrong")})
	if err != nil {
		t.Fatal(err)
	}

	// dumpWith is a Dump of wg0 that suffers fault once.
	dumpWith := func(fault agenttest.Fault) func() error {
		return func() error {
			fault.Times = 1
			f.Inject(agenttest.OpDump, fault)
			_, err := c.Dump(ctx, "wg0")
			return err
		}
	}
	tests := []struct {
		name   string
		call   func() error
		status int
		is     error
		msg    string
	}{
		{name: "unknown peer", call: func() error { return c.DeletePeer(ctx, "wg0", otherKey) },
			status: 404, is: agentapi.ErrNotFound, msg: "peer " + otherKey.String() + " not found on wg0"},
		{name: "unknown peer on GET", call: func() error { _, err := c.Peer(ctx, "wg0", otherKey); return err },
			status: 404, is: agentapi.ErrNotFound, msg: "peer " + otherKey.String() + " not found on wg0"},
		{name: "unknown interface", call: func() error { _, err := c.Dump(ctx, "wg9"); return err },
			status: 404, is: agentapi.ErrNotFound, msg: `interface "wg9" not found`},
		{name: "existing peer", call: func() error {
			_, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: slashKey.String(), AllowedIPs: []string{}})
			return err
		}, status: 409, is: agentapi.ErrConflict, msg: "peer " + slashKey.String() + " already exists on wg0"},
		{name: "bad key in body", call: func() error {
			_, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: "abc="})
			return err
		}, status: 400, is: agentapi.ErrBadRequest},
		{name: "wrong secret", call: func() error { _, err := wrongSecret.Dump(ctx, "wg0"); return err },
			status: 401, is: agentapi.ErrUnauthorized, msg: agentapi.ReasonBadSignature},
		{name: "not JSON", call: dumpWith(agenttest.Fault{Status: http.StatusBadGateway, Raw: true,
			Body: "<html>" + strings.Repeat("bad gateway ", 100) + "</html>"}),
			status: 502, msg: "an HTTP server that is not a wgfleet agent answered 502 (text/html)"},
		{name: "empty body", call: dumpWith(agenttest.Fault{Status: http.StatusInternalServerError, Raw: true}),
			status: 500, msg: "Internal Server Error"},
		{name: "agent error", call: dumpWith(agenttest.Fault{Status: http.StatusServiceUnavailable, Error: "shutting down"}),
			status: 503, msg: "shutting down"},
		{name: "redirect not followed", call: dumpWith(agenttest.Fault{Status: http.StatusFound, Raw: true,
			Header: http.Header{"Location": {"/wg/wg0/dump"}}}),
			status: 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			checkNoSecret(t, err)
			var ae *agentapi.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not an *APIError", err, err)
			}
			if ae.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", ae.StatusCode, tt.status)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			for _, s := range []error{agentapi.ErrNotFound, agentapi.ErrConflict, agentapi.ErrBadRequest, agentapi.ErrUnauthorized} {
				if s != tt.is && errors.Is(err, s) {
					t.Errorf("errors.Is(%v, %v) = true", err, s)
				}
			}
			if !strings.HasPrefix(ae.Message, tt.msg) {
				t.Errorf("Message = %q, want prefix %q", ae.Message, tt.msg)
			}
			if len(ae.Message) > 300 {
				t.Errorf("Message is %d bytes long", len(ae.Message))
			}
			if !strings.HasPrefix(err.Error(), "agent "+f.Addr()+": ") {
				t.Errorf("error %q lacks the agent's host", err)
			}
		})
	}
}

func TestClientNetworkError(t *testing.T) {
	tests := []struct {
		name  string
		agent func(t *testing.T) *agenttest.Fake
	}{
		{"closed server", func(t *testing.T) *agenttest.Fake {
			f := startFake(t)
			f.Close()
			return f
		}},
		{"dropped connection", func(t *testing.T) *agenttest.Fake {
			f := startFake(t)
			f.Inject(agenttest.OpAny, agenttest.Fault{Drop: true})
			return f
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.agent(t)
			c := newTestClient(t, f.URL)
			_, err := c.Dump(context.Background(), "wg0")
			if err == nil {
				t.Fatal("Dump succeeded")
			}
			checkNoSecret(t, err)
			if want := "agent " + f.Addr() + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error %q does not start with %q", err, want)
			}
			var ae *agentapi.APIError
			if errors.As(err, &ae) {
				t.Fatalf("network error is an APIError: %v", err)
			}
		})
	}
}

func TestClientContextCanceled(t *testing.T) {
	f := startFake(t)
	c := newTestClient(t, f.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Health(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Health = %v, want context.Canceled", err)
	}
}

func TestClientBadInterfaceName(t *testing.T) {
	a := startFake(t)
	c := newTestClient(t, a.URL)
	for _, name := range []string{"", "..", "wg0/../x", "wg0?x", "a-very-long-interface-name"} {
		_, err := c.Dump(context.Background(), name)
		if !errors.Is(err, agentapi.ErrBadRequest) {
			t.Errorf("Dump(%q) = %v, want ErrBadRequest", name, err)
		}
	}
	if got := a.Requests(); len(got) != 0 {
		t.Fatalf("requests were sent: %+v", got)
	}
}

func TestNewClientErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  agentapi.ClientConfig
	}{
		{name: "no secret", cfg: agentapi.ClientConfig{BaseURL: "http://10.0.0.1:8080"}},
		{name: "no URL", cfg: agentapi.ClientConfig{Secret: []byte("s")}},
		{name: "ftp", cfg: agentapi.ClientConfig{BaseURL: "ftp://10.0.0.1", Secret: []byte("s")}},
		{name: "no scheme", cfg: agentapi.ClientConfig{BaseURL: "10.0.0.1:8080", Secret: []byte("s")}},
		{name: "no host", cfg: agentapi.ClientConfig{BaseURL: "http:///x", Secret: []byte("s")}},
		{name: "port only", cfg: agentapi.ClientConfig{BaseURL: "http://:8080", Secret: []byte("s")}},
		{name: "user info", cfg: agentapi.ClientConfig{BaseURL: "http://u:p@10.0.0.1", Secret: []byte("s")}},
		{name: "query", cfg: agentapi.ClientConfig{BaseURL: "http://10.0.0.1/?a=b", Secret: []byte("s")}},
		{name: "fragment", cfg: agentapi.ClientConfig{BaseURL: "http://10.0.0.1/#x", Secret: []byte("s")}},
		{name: "unparsable", cfg: agentapi.ClientConfig{BaseURL: "http://[::1", Secret: []byte("s")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := agentapi.NewClient(tt.cfg); err == nil {
				t.Fatal("NewClient = nil error")
			}
		})
	}
	for _, ok := range []string{"http://10.0.0.1:8080", "https://agent.example/", "http://[fd00::1]:8080/prefix"} {
		if _, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: ok, Secret: []byte("s")}); err != nil {
			t.Errorf("NewClient(%q): %v", ok, err)
		}
	}
}

func TestClientConcurrent(t *testing.T) {
	a := startFake(t, agentapi.CapNonce)
	c := newTestClient(t, a.URL)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Dump(context.Background(), "wg0"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, r := range a.Requests() {
		if !r.SignedTarget {
			t.Errorf("request %+v", r)
		}
	}
}
