package agentclient

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestConnectionsReusedAcrossFleet polls a fleet larger than
// http.DefaultTransport keeps idle connections for (100), twice: the
// second round must open no connection, every agent's first one is kept.
func TestConnectionsReusedAcrossFleet(t *testing.T) {
	const agents = 120
	var dials atomic.Int64
	health := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(agentapi.Health{Status: "ok"})
	})
	nodes := make([]store.Node, agents)
	for i := range nodes {
		srv := serveCountingConns(t, health, &dials)
		nodes[i] = store.Node{ID: int64(i + 1), AgentURL: srv.URL, Secret: []byte("s"), WGInterface: "wg0"}
	}
	p := NewPool(PoolOptions{})
	poll := func() {
		t.Helper()
		for _, n := range nodes {
			c, err := p.For(n)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Health(context.Background()); err != nil {
				t.Fatalf("node %d: %v", n.ID, err)
			}
		}
	}
	poll()
	if got := dials.Load(); got != agents {
		t.Fatalf("first round opened %d connections, want one per agent (%d)", got, agents)
	}
	poll()
	if got := dials.Load() - agents; got != 0 {
		t.Errorf("second round opened %d connections to %d agents, want 0 (every first one kept)", got, agents)
	}
}

// serveCountingConns serves h on a loopback test server, closed when the
// test ends, and adds one to conns for every connection it accepts.
func serveCountingConns(t *testing.T, h http.Handler, conns *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}
