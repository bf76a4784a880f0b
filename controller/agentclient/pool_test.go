package agentclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// startAgent runs the fake agent with secret and exactly caps in /health
// (none when caps is empty).
func startAgent(t *testing.T, secret string, caps ...string) *agenttest.Fake {
	t.Helper()
	return agenttest.StartFake(t, agenttest.FakeOptions{Secret: secret, Capabilities: append([]string{}, caps...)})
}

// node is a node whose agent is a.
func node(a *agenttest.Fake, id int64) store.Node {
	return store.Node{ID: id, AgentURL: a.URL, Secret: []byte(a.Secret), WGInterface: "wg0"}
}

// nonceLog says, per request a got, in order, whether it carried X-Nonce.
func nonceLog(a *agenttest.Fake) []bool {
	var out []bool
	for _, r := range a.Requests() {
		out = append(out, r.Nonce != "")
	}
	return out
}

func TestForCachesPerNode(t *testing.T) {
	a := startAgent(t, "secret-a")
	b := startAgent(t, "secret-b")
	p := NewPool(PoolOptions{})

	c1, err := p.For(node(a, 1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		node store.Node
		same bool
	}{
		{"same node again", node(a, 1), true},
		{"other URL", store.Node{ID: 1, AgentURL: b.URL, Secret: []byte("secret-a")}, false},
		{"other secret", store.Node{ID: 1, AgentURL: a.URL, Secret: []byte("rotated")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from the original client each time.
			p.Forget(1)
			c1, _ = p.For(node(a, 1))
			c2, err := p.For(tt.node)
			if err != nil {
				t.Fatal(err)
			}
			if (c1 == c2) != tt.same {
				t.Fatalf("same client = %v, want %v", c1 == c2, tt.same)
			}
		})
	}

	c2, _ := p.For(node(b, 2))
	if c2 == c1 {
		t.Fatal("two nodes share a client")
	}
	p.Forget(2)
	c3, _ := p.For(node(b, 2))
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
	a := startAgent(t, "secret-a", agentapi.CapNonce, agentapi.CapPeerSync)
	p := NewPool(PoolOptions{})
	n := node(a, 7)

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
	if log := nonceLog(a); len(log) != 2 || log[0] || !log[1] {
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
	slow := startAgent(t, "secret-a")
	slow.Inject(agenttest.OpAny, agenttest.Fault{Delay: time.Hour})

	p := NewPool(PoolOptions{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := p.Health(context.Background(), node(slow, 1))
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
	failing := startAgent(t, "x")
	failing.Inject(agenttest.OpAny, agenttest.Fault{Status: http.StatusInternalServerError, Error: "boom"})
	dropping := startAgent(t, "x")
	dropping.Inject(agenttest.OpAny, agenttest.Fault{Drop: true})
	a := startAgent(t, "right")

	p := NewPool(PoolOptions{Timeout: time.Second})
	tests := []struct {
		name        string
		node        store.Node
		unreachable bool
	}{
		{"closed port", store.Node{ID: 1, AgentURL: closedURL, Secret: []byte("x")}, true},
		{"dropped connection", store.Node{ID: 4, AgentURL: dropping.URL, Secret: []byte("x")}, true},
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
	a := startAgent(t, "secret-a")
	p := NewPool(PoolOptions{})
	var wg sync.WaitGroup
	got := make([]*agentapi.Client, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.For(node(a, 1))
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
