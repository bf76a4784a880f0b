package agent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// BenchmarkDump10k is the dump part of BenchmarkPeerSetScale alone, for a
// CPU profile of it: a real agent holding 10k peers, GET /wg/wg0/dump
// round trip through agentapi.Client, once per iteration; min-ms is the
// fastest one (what a loaded machine disturbs least).
//
//	go test -run '^$' -bench Dump10k -benchtime 20x -cpuprofile cpu.out ./agent/
func BenchmarkDump10k(b *testing.B) {
	const n = 10000
	peers := scalePeers(b, n)
	a := agenttest.Start(b, agenttest.Options{})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: srv.URL, Secret: []byte(a.Secret),
		HTTPClient: &http.Client{Timeout: 5 * time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := agentapi.SyncRequest{Peers: make([]agentapi.PeerSpec, 0, n)}
	for _, p := range peers {
		req.Peers = append(req.Peers, agentapi.PeerSpec{PublicKey: p.key.String(), AllowedIPs: []string{p.ip.String()}})
	}
	if _, err := c.SyncPeers(ctx, "wg0", req); err != nil {
		b.Fatalf("replace-all of %d peers: %v", n, err)
	}
	fastest := time.Duration(1 << 62)
	for b.Loop() {
		start := time.Now()
		d, err := c.Dump(ctx, "wg0")
		fastest = min(fastest, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Peers) != n {
			b.Fatalf("dump has %d peers, want %d", len(d.Peers), n)
		}
	}
	b.ReportMetric(ms(fastest), "min-ms")
}
