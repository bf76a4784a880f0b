package agentclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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
			"The agent at agent:51821 refused the request's signature (invalid signature): check the secret and that the clocks agree"},
		{"error answer", fmt.Errorf("x: %w", &agentapi.APIError{StatusCode: 500, Message: "disk full"}),
			"The agent at agent:51821 answered with an error: 500 Internal Server Error: disk full"},
		{"deadline", fmt.Errorf("GET /health: %w", context.DeadlineExceeded), "The agent at agent:51821 did not answer in time"},
		{"no known reason", errors.New("dial tcp: something odd"), "Cannot reach the agent at agent:51821"},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "agent", IsNotFound: true}, "Cannot reach the agent at agent:51821 (unknown host agent)"},
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

// TestDescribeRealFailure: a real refused connection reads as one short
// sentence with the address and the reason, never the Go error chain,
// which stays the detail; without a URL the address comes from the
// request in the error.
func TestDescribeRealFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res, err := http.Get("http://" + addr + "/health")
	if err == nil {
		res.Body.Close()
		t.Fatal("a closed port answered")
	}
	err = Classify(fmt.Errorf("health: agent %s: GET /health: %w", addr, err))
	want := "Cannot reach the agent at " + addr + " (connection refused)"
	for _, url := range []string{"http://" + addr, ""} {
		if got := Describe(url, err); got != want {
			t.Errorf("Describe(%q) = %q, want %q (detail %q)", url, got, want, err)
		}
	}
}
