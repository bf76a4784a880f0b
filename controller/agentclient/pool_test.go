package agentclient

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/store"
)

// fakeAgent is a small signed agent: /health advertises caps, and every
// request is verified with the real Verifier. It records which requests
// carried a nonce.
type fakeAgent struct {
	*httptest.Server
	secret string

	mu     sync.Mutex
	caps   []string
	nonces []bool // per request, in order: did it carry X-Nonce
}

func newFakeAgent(t *testing.T, secret string, caps ...string) *fakeAgent {
	t.Helper()
	v, err := agentapi.NewVerifier(agentapi.VerifierConfig{Secrets: [][]byte{[]byte(secret)}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAgent{secret: secret, caps: caps}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := v.Verify(r, nil); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(agentapi.ErrorResponse{Error: err.Error()})
			return
		}
		f.mu.Lock()
		f.nonces = append(f.nonces, r.Header.Get(agentapi.HeaderNonce) != "")
		caps := f.caps
		f.mu.Unlock()
		switch r.URL.Path {
		case "/health":
			json.NewEncoder(w).Encode(agentapi.Health{Status: "ok", Capabilities: caps})
		case "/wg/wg0/dump":
			json.NewEncoder(w).Encode(agentapi.Dump{Interface: "wg0", Peers: []agentapi.Peer{}})
		default:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(agentapi.ErrorResponse{Error: "no such endpoint"})
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAgent) node(id int64) store.Node {
	return store.Node{ID: id, AgentURL: f.URL, Secret: []byte(f.secret), WGInterface: "wg0"}
}

func (f *fakeAgent) nonceLog() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bool(nil), f.nonces...)
}

func TestForCachesPerNode(t *testing.T) {
	a := newFakeAgent(t, "secret-a")
	b := newFakeAgent(t, "secret-b")
	p := NewPool(PoolOptions{})

	c1, err := p.For(a.node(1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		node store.Node
		same bool
	}{
		{"same node again", a.node(1), true},
		{"other URL", store.Node{ID: 1, AgentURL: b.URL, Secret: []byte("secret-a")}, false},
		{"other secret", store.Node{ID: 1, AgentURL: a.URL, Secret: []byte("rotated")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from the original client each time.
			p.Forget(1)
			c1, _ = p.For(a.node(1))
			c2, err := p.For(tt.node)
			if err != nil {
				t.Fatal(err)
			}
			if (c1 == c2) != tt.same {
				t.Fatalf("same client = %v, want %v", c1 == c2, tt.same)
			}
		})
	}

	c2, _ := p.For(b.node(2))
	if c2 == c1 {
		t.Fatal("two nodes share a client")
	}
	p.Forget(2)
	c3, _ := p.For(b.node(2))
	if c3 == c2 {
		t.Fatal("Forget kept the client")
	}
}

func TestForRefusesBadNodes(t *testing.T) {
	p := NewPool(PoolOptions{})
	tests := []struct {
		name string
		node store.Node
	}{
		{"no id", store.Node{AgentURL: "http://127.0.0.1:1", Secret: []byte("s3cr3t-value")}},
		{"bad scheme", store.Node{ID: 1, AgentURL: "ftp://agent", Secret: []byte("s3cr3t-value")}},
		{"no secret", store.Node{ID: 1, AgentURL: "http://127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.For(tt.node)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Fatalf("error carries the secret: %v", err)
			}
		})
	}
}

func TestHealthRemembersCapabilities(t *testing.T) {
	ctx := context.Background()
	a := newFakeAgent(t, "secret-a", agentapi.CapNonce, agentapi.CapPeerSync)
	p := NewPool(PoolOptions{})
	n := a.node(7)

	if _, known := p.HasCapability(7, agentapi.CapPeerSync); known {
		t.Fatal("capabilities known before any Health")
	}
	if _, err := p.Health(ctx, n); err != nil {
		t.Fatal(err)
	}
	if has, known := p.HasCapability(7, agentapi.CapPeerSync); !has || !known {
		t.Fatalf("peer-sync: has=%v known=%v", has, known)
	}
	if has, known := p.HasCapability(7, "no-such-cap"); has || !known {
		t.Fatalf("no-such-cap: has=%v known=%v", has, known)
	}

	// The client is kept between calls: it learned about nonces from the
	// pool's Health, so the next request carries one without asking again.
	c, _ := p.For(n)
	if _, err := c.Dump(ctx, "wg0"); err != nil {
		t.Fatal(err)
	}
	if log := a.nonceLog(); len(log) != 2 || log[0] || !log[1] {
		t.Fatalf("requests with nonce: %v, want [false true] (health without, dump with)", log)
	}

	p.ForgetCapabilities(7)
	if _, known := p.HasCapability(7, agentapi.CapPeerSync); known {
		t.Fatal("ForgetCapabilities kept them")
	}
	if _, err := p.Health(ctx, n); err != nil {
		t.Fatal(err)
	}
	// A new secret makes a new client that knows nothing yet.
	n.Secret = []byte("rotated")
	if _, err := p.For(n); err != nil {
		t.Fatal(err)
	}
	if _, known := p.HasCapability(7, agentapi.CapPeerSync); known {
		t.Fatal("capabilities survived a new client")
	}
}

func TestTimeoutIsUnreachable(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	p := NewPool(PoolOptions{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := p.Health(context.Background(), store.Node{ID: 1, AgentURL: slow.URL, Secret: []byte("x")})
	if err == nil {
		t.Fatal("no error from a server that never answers")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout not applied: took %v", d)
	}
	if !Unreachable(err) || !errors.Is(Classify(err), ErrUnreachable) {
		t.Fatalf("timeout not unreachable: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":"boom"}`))
	}))
	defer failing.Close()
	a := newFakeAgent(t, "right")

	p := NewPool(PoolOptions{Timeout: time.Second})
	tests := []struct {
		name        string
		node        store.Node
		unreachable bool
	}{
		{"closed port", store.Node{ID: 1, AgentURL: closedURL, Secret: []byte("x")}, true},
		{"500 answer", store.Node{ID: 2, AgentURL: failing.URL, Secret: []byte("x")}, false},
		{"401 answer", store.Node{ID: 3, AgentURL: a.URL, Secret: []byte("wrong")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Health(ctx, tt.node)
			if err == nil {
				t.Fatal("no error")
			}
			if got := Unreachable(err); got != tt.unreachable {
				t.Fatalf("Unreachable(%v) = %v, want %v", err, got, tt.unreachable)
			}
			if got := errors.Is(Classify(err), ErrUnreachable); got != tt.unreachable {
				t.Fatalf("Classify: errors.Is ErrUnreachable = %v", got)
			}
		})
	}
	if Unreachable(nil) || Classify(nil) != nil {
		t.Fatal("nil error classified as unreachable")
	}
}

func TestGivenHTTPClientGetsTimeout(t *testing.T) {
	hc := &http.Client{}
	p := NewPool(PoolOptions{HTTPClient: hc, Timeout: 3 * time.Second})
	if p.hc == hc || p.hc.Timeout != 3*time.Second || hc.Timeout != 0 {
		t.Fatalf("pool client timeout %v, caller's changed to %v", p.hc.Timeout, hc.Timeout)
	}
	hc = &http.Client{Timeout: time.Second}
	if p := NewPool(PoolOptions{HTTPClient: hc}); p.hc.Timeout != time.Second {
		t.Fatalf("caller's timeout replaced: %v", p.hc.Timeout)
	}
}

func TestForConcurrent(t *testing.T) {
	a := newFakeAgent(t, "secret-a")
	p := NewPool(PoolOptions{})
	var wg sync.WaitGroup
	got := make([]*agentapi.Client, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.For(a.node(1))
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		}()
	}
	wg.Wait()
	for _, c := range got[1:] {
		if c != got[0] {
			t.Fatal("concurrent For made two clients for one node")
		}
	}
}
