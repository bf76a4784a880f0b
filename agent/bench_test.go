package agent_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// BenchmarkPeerCreation measures signed peer creations through the API,
// one at a time (the baseline: one UAPI set and one fsync each) and 64 at
// a time (group commit: one set and one fsync per batch), in the same run,
// and reports their throughput and ratio.
//
//	go test -run '^$' -bench PeerCreation ./agent/
func BenchmarkPeerCreation(b *testing.B) {
	const peers = 200
	run := func(b *testing.B, workers int) time.Duration {
		a := agenttest.Start(b, agenttest.Options{})
		c := a.Client(b)
		ctx := context.Background()
		if _, err := c.Health(ctx); err != nil {
			b.Fatal(err)
		}
		keys := make([]wgtypes.Key, peers)
		for i := range keys {
			k, _ := wgtypes.GeneratePrivateKey()
			keys[i] = k.PublicKey()
		}
		next := make(chan int, peers)
		for i := 0; i < peers; i++ {
			next <- i
		}
		close(next)
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					ip := fmt.Sprintf("10.%d.%d.%d/32", 100+i/65536, (i/256)%256, i%256)
					if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: keys[i].String(), AllowedIPs: []string{ip}}); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		d := time.Since(start)
		if err := a.Stop(); err != nil {
			b.Fatalf("stopping the agent: %v", err)
		}
		return d
	}
	var seq, conc time.Duration
	for i := 0; i < b.N; i++ {
		seq += run(b, 1)
		conc += run(b, 64)
	}
	perSec := func(d time.Duration) float64 { return float64(peers*b.N) / d.Seconds() }
	b.ReportMetric(perSec(seq), "seq-peers/s")
	b.ReportMetric(perSec(conc), "conc64-peers/s")
	b.ReportMetric(perSec(conc)/perSec(seq), "conc/seq")
}
