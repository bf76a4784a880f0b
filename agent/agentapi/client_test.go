package agentapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

const clientSecret = "super-secret-value-123"

// seenRequest is what the fake agent recorded of one request.
type seenRequest struct {
	Method      string
	RequestURI  string
	Body        string
	Nonce       string
	ContentType string
	// SignedTarget is whether X-Signature is the MAC over exactly the
	// request target that reached the server.
	SignedTarget bool
}

// fakeAgent is a small agent behind the real Verifier. It serves one
// interface, wg0, and a few special interface names that fail on purpose.
type fakeAgent struct {
	verifier   *agentapi.Verifier
	prefix     string   // path prefix it is mounted under
	caps       []string // capabilities in /health
	failHealth bool

	mu    sync.Mutex
	seen  []seenRequest
	peers map[wgtypes.Key]agentapi.Peer
}

func newFakeAgent(t *testing.T, caps ...string) (*fakeAgent, *httptest.Server) {
	t.Helper()
	v, err := agentapi.NewVerifier(agentapi.VerifierConfig{Secrets: [][]byte{[]byte(clientSecret)}})
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAgent{verifier: v, caps: caps, peers: make(map[wgtypes.Key]agentapi.Peer)}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv
}

func (a *fakeAgent) requests() []seenRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seenRequest(nil), a.seen...)
}

func (a *fakeAgent) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, agentapi.ErrorResponse{Error: msg})
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, agentapi.MaxBodyBytes+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "reading body")
		return
	}
	ts, nonce := r.Header.Get(agentapi.HeaderTimestamp), r.Header.Get(agentapi.HeaderNonce)
	a.mu.Lock()
	a.seen = append(a.seen, seenRequest{
		Method:       r.Method,
		RequestURI:   r.RequestURI,
		Body:         string(body),
		Nonce:        nonce,
		ContentType:  r.Header.Get("Content-Type"),
		SignedTarget: agentapi.Sign([]byte(clientSecret), r.Method, r.RequestURI, body, ts, nonce) == r.Header.Get(agentapi.HeaderSignature),
	})
	a.mu.Unlock()
	if err := a.verifier.Verify(r, body); err != nil {
		writeErr(w, http.StatusUnauthorized, err.Error())
		return
	}

	path, ok := strings.CutPrefix(r.URL.EscapedPath(), a.prefix)
	if !ok {
		writeErr(w, http.StatusNotFound, "no such endpoint")
		return
	}
	if path == "/health" && r.Method == http.MethodGet {
		if a.failHealth {
			writeErr(w, http.StatusInternalServerError, "health is broken")
			return
		}
		writeJSON(w, http.StatusOK, agentapi.Health{Status: "ok", Version: "1.2.3", Capabilities: a.caps})
		return
	}
	path, v1 := strings.CutPrefix(path, "/v1")
	rest, ok := strings.CutPrefix(path, "/wg/")
	if !ok {
		writeErr(w, http.StatusNotFound, "no such endpoint")
		return
	}
	iface, rest, _ := strings.Cut(rest, "/")
	switch iface {
	case "wg0":
	case "broken":
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>"+strings.Repeat("bad gateway ", 100)+"</html>")
		return
	case "empty":
		w.WriteHeader(http.StatusInternalServerError)
		return
	case "moved":
		http.Redirect(w, r, "/wg/wg0/dump", http.StatusFound)
		return
	default:
		writeErr(w, http.StatusNotFound, "interface "+iface+" not found")
		return
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case rest == "dump" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, agentapi.Dump{Interface: "wg0", Peers: a.peerList()})
	case rest == "" && v1 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, agentapi.InterfaceInfo{Name: "wg0", Mode: "netstack", ListenPort: 51820, PeerCount: len(a.peers)})
	case rest == "peers" && r.Method == http.MethodPost:
		req, err := agentapi.DecodeAddPeer(body)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		k, err := agentapi.ParseKey(req.PublicKey)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		if _, ok := a.peers[k]; ok {
			writeErr(w, http.StatusConflict, "peer already exists")
			return
		}
		a.peers[k] = agentapi.Peer{PublicKey: k.String(), AllowedIPs: req.AllowedIPs}
		writeJSON(w, http.StatusCreated, agentapi.StatusResponse{Status: "success", Message: "Peer added successfully",
			Peer: &agentapi.PeerRef{PublicKey: k.String(), AllowedIPs: req.AllowedIPs}})
	case rest == "peers" && v1 && r.Method == http.MethodPut:
		req, err := agentapi.DecodeSync(body)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, agentapi.SyncResult{Status: "success", Added: len(req.Peers), Removed: len(a.peers)})
	case rest == "peers" && v1 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, agentapi.PeerList{Interface: "wg0", Peers: a.peerList()})
	case strings.HasPrefix(rest, "peers/"):
		k, err := agentapi.ParsePathKey(strings.TrimPrefix(rest, "peers/"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		p, ok := a.peers[k]
		if !ok {
			writeErr(w, http.StatusNotFound, "peer not found")
			return
		}
		switch {
		case r.Method == http.MethodPut:
			req, err := agentapi.DecodeUpdatePeer(body)
			if err != nil {
				writeErr(w, http.StatusBadRequest, err.Error())
				return
			}
			if req.AllowedIPs != nil {
				p.AllowedIPs = *req.AllowedIPs
			}
			a.peers[k] = p
			writeJSON(w, http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer updated successfully"})
		case r.Method == http.MethodDelete:
			delete(a.peers, k)
			writeJSON(w, http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer removed successfully"})
		case r.Method == http.MethodGet && v1:
			writeJSON(w, http.StatusOK, p)
		default:
			writeErr(w, http.StatusMethodNotAllowed, "method not allowed")
		}
	default:
		writeErr(w, http.StatusNotFound, "no such endpoint")
	}
}

func (a *fakeAgent) peerList() []agentapi.Peer {
	out := []agentapi.Peer{}
	for _, p := range a.peers {
		out = append(out, p)
	}
	return out
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
	a, srv := newFakeAgent(t, agentapi.CapNonce)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	key := slashKey
	escaped := "/peers/" + key.String() // raw, as the seed controller sends it

	h, err := c.Health(ctx)
	if err != nil || h.Status != "ok" || !h.HasCapability(agentapi.CapNonce) {
		t.Fatalf("Health = %+v, %v", h, err)
	}

	keepalive := 25
	add := agentapi.AddPeerRequest{PublicKey: key.String(), AllowedIPs: []string{"10.0.0.2/32"}, PersistentKeepalive: &keepalive}
	st, err := c.AddPeer(ctx, "wg0", add)
	if err != nil || st.Status != "success" || st.Peer == nil || st.Peer.PublicKey != key.String() {
		t.Fatalf("AddPeer = %+v, %v", st, err)
	}
	ips := []string{"10.0.0.3/32"}
	if err := c.UpdatePeer(ctx, "wg0", key, agentapi.UpdatePeerRequest{AllowedIPs: &ips}); err != nil {
		t.Fatalf("UpdatePeer: %v", err)
	}
	p, err := c.Peer(ctx, "wg0", key)
	if err != nil || p.PublicKey != key.String() || !reflect.DeepEqual(p.AllowedIPs, ips) {
		t.Fatalf("Peer = %+v, %v", p, err)
	}
	d, err := c.Dump(ctx, "wg0")
	if err != nil || d.Interface != "wg0" || len(d.Peers) != 1 {
		t.Fatalf("Dump = %+v, %v", d, err)
	}
	l, err := c.Peers(ctx, "wg0")
	if err != nil || len(l.Peers) != 1 {
		t.Fatalf("Peers = %+v, %v", l, err)
	}
	info, err := c.Interface(ctx, "wg0")
	if err != nil || info.Name != "wg0" || info.PeerCount != 1 {
		t.Fatalf("Interface = %+v, %v", info, err)
	}
	res, err := c.SyncPeers(ctx, "wg0", agentapi.SyncRequest{})
	if err != nil || res.Removed != 1 {
		t.Fatalf("SyncPeers = %+v, %v", res, err)
	}
	if err := c.DeletePeer(ctx, "wg0", key); err != nil {
		t.Fatalf("DeletePeer: %v", err)
	}

	addBody, _ := json.Marshal(add)
	updBody, _ := json.Marshal(agentapi.UpdatePeerRequest{AllowedIPs: &ips})
	want := []struct{ method, uri, body string }{
		{"GET", "/health", ""},
		{"POST", "/wg/wg0/peers", string(addBody)},
		{"PUT", "/wg/wg0" + escaped, string(updBody)},
		{"GET", "/v1/wg/wg0" + escaped, ""},
		{"GET", "/wg/wg0/dump", ""},
		{"GET", "/v1/wg/wg0/peers", ""},
		{"GET", "/v1/wg/wg0", ""},
		{"PUT", "/v1/wg/wg0/peers", `{"peers":[]}`},
		{"DELETE", "/wg/wg0" + escaped, ""},
	}
	got := a.requests()
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
	a, srv := newFakeAgent(t)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: slashKey.String(), AllowedIPs: []string{}}); err != nil {
		t.Fatal(err)
	}
	a.reset()
	if err := c.DeletePeer(ctx, "wg0", slashKey); err != nil {
		t.Fatalf("DeletePeer of a key with / and +: %v", err)
	}
	got := a.requests()
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
	a, srv := newFakeAgent(t)
	a.prefix = "/agent%20one"
	c := newTestClient(t, srv.URL+"/agent%20one/")
	if _, err := c.Dump(context.Background(), "wg0"); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	for _, r := range a.requests() {
		if !strings.HasPrefix(r.RequestURI, "/agent%20one/") || strings.Contains(r.RequestURI, "//") || !r.SignedTarget {
			t.Errorf("request %+v", r)
		}
	}
}

func TestClientNonce(t *testing.T) {
	ctx := context.Background()
	t.Run("learned lazily", func(t *testing.T) {
		a, srv := newFakeAgent(t, agentapi.CapPeerSync, agentapi.CapNonce)
		c := newTestClient(t, srv.URL)
		for range 2 {
			if _, err := c.Dump(ctx, "wg0"); err != nil {
				t.Fatal(err)
			}
		}
		got := a.requests()
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
		a, srv := newFakeAgent(t, agentapi.CapPeerSync)
		c := newTestClient(t, srv.URL)
		for range 2 {
			if _, err := c.Dump(ctx, "wg0"); err != nil {
				t.Fatal(err)
			}
		}
		got := a.requests()
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
		a, srv := newFakeAgent(t, agentapi.CapNonce)
		a.failHealth = true
		c := newTestClient(t, srv.URL)
		for range 2 {
			if _, err := c.Dump(ctx, "wg0"); err != nil {
				t.Fatal(err)
			}
		}
		got := a.requests()
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
		_, srv := newFakeAgent(t, agentapi.CapNonce)
		c := newTestClient(t, srv.URL)
		for i := range 2 {
			err := c.DeletePeer(ctx, "wg0", slashKey)
			if !errors.Is(err, agentapi.ErrNotFound) {
				t.Fatalf("DeletePeer #%d = %v, want ErrNotFound", i, err)
			}
		}
	})
}

func TestClientErrors(t *testing.T) {
	_, srv := newFakeAgent(t, agentapi.CapNonce)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: slashKey.String(), AllowedIPs: []string{}}); err != nil {
		t.Fatal(err)
	}

	wrongSecret, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: srv.URL, Secret: []byte("wrong")})
	if err != nil {
		t.Fatal(err)
	}
	otherKey := wgtypes.Key{1}

	tests := []struct {
		name   string
		call   func() error
		status int
		is     error
		msg    string
	}{
		{name: "unknown peer", call: func() error { return c.DeletePeer(ctx, "wg0", otherKey) },
			status: 404, is: agentapi.ErrNotFound, msg: "peer not found"},
		{name: "unknown peer on GET", call: func() error { _, err := c.Peer(ctx, "wg0", otherKey); return err },
			status: 404, is: agentapi.ErrNotFound, msg: "peer not found"},
		{name: "unknown interface", call: func() error { _, err := c.Dump(ctx, "wg9"); return err },
			status: 404, is: agentapi.ErrNotFound, msg: "interface wg9 not found"},
		{name: "existing peer", call: func() error {
			_, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: slashKey.String(), AllowedIPs: []string{}})
			return err
		}, status: 409, is: agentapi.ErrConflict, msg: "peer already exists"},
		{name: "bad key in body", call: func() error {
			_, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: "abc="})
			return err
		}, status: 400, is: agentapi.ErrBadRequest},
		{name: "wrong secret", call: func() error { _, err := wrongSecret.Dump(ctx, "wg0"); return err },
			status: 401, is: agentapi.ErrUnauthorized, msg: agentapi.ReasonBadSignature},
		{name: "not JSON", call: func() error { _, err := c.Dump(ctx, "broken"); return err },
			status: 502, msg: "an HTTP server that is not a wgfleet agent answered 502 (text/html)"},
		{name: "empty body", call: func() error { _, err := c.Dump(ctx, "empty"); return err },
			status: 500, msg: "Internal Server Error"},
		{name: "redirect not followed", call: func() error { _, err := c.Dump(ctx, "moved"); return err },
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
			if !strings.HasPrefix(err.Error(), "agent "+srv.Listener.Addr().String()+": ") {
				t.Errorf("error %q lacks the agent's host", err)
			}
		})
	}
}

func TestClientNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := newTestClient(t, url)
	_, err := c.Dump(context.Background(), "wg0")
	if err == nil {
		t.Fatal("Dump against a closed server succeeded")
	}
	checkNoSecret(t, err)
	if want := "agent " + strings.TrimPrefix(url, "http://") + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q does not start with %q", err, want)
	}
	var ae *agentapi.APIError
	if errors.As(err, &ae) {
		t.Fatalf("network error is an APIError: %v", err)
	}
}

func TestClientContextCanceled(t *testing.T) {
	_, srv := newFakeAgent(t)
	c := newTestClient(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Health(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Health = %v, want context.Canceled", err)
	}
}

func TestClientBadInterfaceName(t *testing.T) {
	a, srv := newFakeAgent(t)
	c := newTestClient(t, srv.URL)
	for _, name := range []string{"", "..", "wg0/../x", "wg0?x", "a-very-long-interface-name"} {
		_, err := c.Dump(context.Background(), name)
		if !errors.Is(err, agentapi.ErrBadRequest) {
			t.Errorf("Dump(%q) = %v, want ErrBadRequest", name, err)
		}
	}
	if got := a.requests(); len(got) != 0 {
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
	a, srv := newFakeAgent(t, agentapi.CapNonce)
	c := newTestClient(t, srv.URL)
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
	for _, r := range a.requests() {
		if !r.SignedTarget {
			t.Errorf("request %+v", r)
		}
	}
}
