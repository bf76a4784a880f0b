package api

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

// BenchmarkPeerSearch measures GET /api/peers paged and searched over a
// real SQLite store holding 100 nodes x 1,000 peers (100 x 100 with
// -short), through the whole API (HTTP, session, JSON): the median of 15
// requests of each kind, in milliseconds: the first page of 100
// (first-page-ms), a search by name that matches a few peers (search-ms)
// and one that matches none, so it reads every peer (search-miss-ms), one
// node's peers (node-ms), a rare status (status-ms), a node label
// (label-ms), and a page deep in the walk (deep-page-ms). Targets
// (docs/BENCHMARKS.md): every figure under 100 ms at 100k peers.
func BenchmarkPeerSearch(b *testing.B) {
	perNode := 1000
	if testing.Short() {
		perNode = 100
	}
	e := newEnv(b, envOptions{noReconciler: true})
	ctx := context.Background()
	nodes := make([]store.Node, 100)
	for i := range nodes {
		n := storetest.Node(fmt.Sprintf("edge-%03d", i), "http://127.0.0.1:1", "bench-secret-0123456789abcdef")
		n.Enabled = false
		n.IPPool = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i + 1), 0, 0}), 16)
		n.Labels = labels.Set{"region": []string{"eu", "us"}[i%2]}
		var err error
		if nodes[i], err = e.st.CreateNode(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	total := storetest.SeedPeers(b, filepath.Join(e.dir, "controller.db"), nodes, perNode)
	c := e.login(b)
	cases := []struct{ metric, query string }{
		{"first-page-ms", "limit=100"},
		{"search-ms", "q=" + url.QueryEscape(fmt.Sprintf("phone-%d", total/2+1))},
		{"search-miss-ms", "q=nobody"},
		{"node-ms", fmt.Sprintf("node_id=%d", nodes[len(nodes)/2].ID)},
		{"status-ms", "status=over_limit"},
		{"label-ms", "label=region%3Dus"},
		{"deep-page-ms", "cursor=" + encodeCursor(int64(total*9/10))},
	}
	b.ResetTimer()
	for b.Loop() {
		for _, tc := range cases {
			var times []float64
			for range 15 {
				start := time.Now()
				var pg peerPage
				c.do(b, "GET", "/api/peers?"+tc.query, nil).want(b, 200).decode(b, &pg)
				times = append(times, float64(time.Since(start).Microseconds())/1000)
				if tc.metric != "search-miss-ms" && len(pg.Peers) == 0 {
					b.Fatalf("%s: no peers for %s", tc.metric, tc.query)
				}
			}
			slices.Sort(times)
			b.ReportMetric(times[len(times)/2], tc.metric)
		}
	}
	b.ReportMetric(float64(total), "peers")
}
