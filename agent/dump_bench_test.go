package agent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// BenchmarkDump10k is the dump part of BenchmarkPeerSetScale alone, for a
// CPU profile of it: a real agent holding 10k peers, GET /wg/wg0/dump
// round trip through agentapi.Client, once per iteration; min-ms is the
// fastest one (what a loaded machine disturbs least), med-ms the median.
// idle: the peers do not change between two dumps (the agent reuses what
// the last dump encoded of each); moved: every peer's lines changed since
// the last dump (its allowed IP, moved by a replace-all before each dump,
// outside the time), as when every peer's counters moved. gcs is how many
// collections ran during the loop (the process holds the device's 10k
// peers, about 300 MB full of pointers: one that runs during a dump takes
// a CPU of the two and slows the device's walk).
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
	sync := func(moved bool) {
		req := agentapi.SyncRequest{Peers: make([]agentapi.PeerSpec, 0, n)}
		for i, p := range peers {
			ip := p.ip.String()
			if moved {
				ip = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 128 + byte(i>>16), byte(i >> 8), byte(i)}), 32).String()
			}
			req.Peers = append(req.Peers, agentapi.PeerSpec{PublicKey: p.key.String(), AllowedIPs: []string{ip}})
		}
		if _, err := c.SyncPeers(ctx, "wg0", req); err != nil {
			b.Fatalf("replace-all of %d peers: %v", n, err)
		}
	}
	sync(false)
	for _, moving := range []bool{false, true} {
		name := "idle"
		if moving {
			name = "moved"
		}
		b.Run(name, func(b *testing.B) {
			var times []time.Duration
			moved := false
			// What the set-up left (10k peers made: hundreds of MB) is
			// collected before the first dump, not during the first
			// dumps; the collections the dumps cause are counted.
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				if moving {
					moved = !moved
					sync(moved)
				}
				start := time.Now()
				d, err := c.Dump(ctx, "wg0")
				times = append(times, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if len(d.Peers) != n {
					b.Fatalf("dump has %d peers, want %d", len(d.Peers), n)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(ms(slices.Min(times)), "min-ms")
			b.ReportMetric(ms(median(times)), "med-ms")
			b.ReportMetric(float64(after.NumGC-before.NumGC), "gcs")
		})
	}
}
