package main

import (
	"context"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// BenchmarkForwardThroughput measures one TCP stream from a wireguard-go
// peer in namespace B to a service in namespace A, through two agents in
// one run: an unprivileged one that forwards in user space (netstack mode,
// tunnel/forward) and a root one on a TUN interface, where A's kernel
// delivers the stream. It reports both in MB/s and their ratio. Each
// iteration sends 64 MB (8 MB with -short) through each, within two
// minutes each; the checksum of every transfer is verified.
//
//	sudo go test -run '^$' -bench ForwardThroughput -benchtime 3x ./cmd/wg-agent/
func BenchmarkForwardThroughput(b *testing.B) {
	requireTopology(b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := buildAgentShared(b)
	const svc = topoServiceAddr + ":9100"

	type leg struct {
		mode  container.Mode
		tp    *topology
		bytes int64
		took  time.Duration
	}
	legs := []*leg{{mode: container.ModeNetstack}, {mode: container.ModeTUN}}
	for _, l := range legs {
		l.tp = startTopology(b, ctx, bin, l.mode == container.ModeNetstack, nil)
		if got := l.tp.health.Interfaces[0].Mode; got != l.mode {
			b.Fatalf("agent runs in %s mode, want %s", got, l.mode)
		}
		ln, err := testenv.ListenInNetNS(l.tp.nsA, "tcp", svc)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		go testenv.ServeSHA256(ln)
		l.tp.addWireguardGo(b, ctx, l.tp.nsB, "10.80.0.2", topoUnderlayA+":51820", "172.31.9.0/24")
		dial := testenv.DialerInNetNS(l.tp.nsB)
		waitUntil(b, ctx, func() bool {
			c, err := dial(ctx, "tcp", svc)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		sendChecked(b, ctx, l.tp.nsB, svc, 4<<20, 0) // warm up
	}

	size := int64(64 << 20)
	if testing.Short() {
		size = 8 << 20
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range legs {
			tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			l.took += sendChecked(b, tctx, l.tp.nsB, svc, size, uint64(i+1))
			l.bytes += size
			cancel()
		}
	}
	b.StopTimer()
	netstack, tun := mbps(legs[0].bytes, legs[0].took), mbps(legs[1].bytes, legs[1].took)
	b.ReportMetric(netstack, "netstack-MB/s")
	b.ReportMetric(tun, "tun-MB/s")
	b.ReportMetric(netstack/tun, "netstack/tun")
}
