package agentclient

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fault"
)

// TestProbe: a client for an agent that is not a node comes from the
// Pool's constructor, works, and is not kept.
func TestProbe(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	p := NewPool(PoolOptions{Timeout: 5 * time.Second})
	c, err := p.Probe(a.URL, []byte(a.Secret), agentapi.Fingerprint{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(context.Background())
	if err != nil {
		t.Fatalf("probe client: %v", err)
	}
	if h.Status == "" {
		t.Fatalf("health %+v", h)
	}
	p.mu.Lock()
	kept := len(p.entries)
	p.mu.Unlock()
	if kept != 0 {
		t.Fatalf("the pool kept %d clients after a probe", kept)
	}
	for _, tc := range []struct{ url, secret string }{
		{"ftp://agent", "secret"},
		{a.URL, ""},
	} {
		if _, err := p.Probe(tc.url, []byte(tc.secret), agentapi.Fingerprint{}); err == nil {
			t.Errorf("Probe(%q, %q) made a client", tc.url, tc.secret)
		}
	}
}

func TestDescribe(t *testing.T) {
	const url = "http://agent:51821"
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"refused signature", fmt.Errorf("GET /health: %w", &agentapi.APIError{StatusCode: 401, Message: "invalid signature"}),
			"the agent refused the request's signature: check the secret and that the clocks agree (GET /health: 401 Unauthorized: invalid signature)"},
		{"error answer", fmt.Errorf("x: %w", &agentapi.APIError{StatusCode: 500, Message: "disk full"}),
			"the agent answered with an error: 500 Internal Server Error: disk full"},
		{"deadline", fmt.Errorf("GET /health: %w", context.DeadlineExceeded), "no answer from http://agent:51821 in time"},
		{"refused connection", errors.New("dial tcp: connection refused"), "cannot reach the agent at http://agent:51821: dial tcp: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Describe(url, tc.err); got != tc.want {
				t.Errorf("Describe = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUnreachableCode(t *testing.T) {
	if c := fault.ErrorCode(Classify(errors.New("dial tcp: refused"))); c != fault.EAGENT {
		t.Fatalf("an unreachable agent has code %q, want %q", c, fault.EAGENT)
	}
}
