package controller_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

// seedFleet is BenchmarkControllerFleet with WGFLEET_FLEET_SEED=1: a fleet
// too large to create through the API in the time (10,000 nodes x 100
// peers) is written straight into the database (storetest.SeedPeers:
// active, restricted, expired and over-limit peers), left pending with
// every node's generation bumped, as if created while the agents were
// away, in the seed's own transaction; then the running controller puts them on their agents itself
// (its polls offer each node's empty dump, and its reconciles send the
// node's peers in one replace-all). The seed runs in a child process
// of its own when the agents do (seedInChild). It reports:
//
//   - seeded-peers, on-agent-peers: peers written, and those that belong
//     on an agent (neither restricted nor off);
//   - seed-to-agent-s: from the seed's commit to the last of those on its
//     agent (the reconcile of the whole fleet);
//   - full-cycle-ms: the longest of three idle cycles after that (every
//     peer on its agent), period/interval and its minimum over every
//     cycle, false-drift and the memory and CPU figures, as without the seed
//     (dials/first-cycles and dials/warm-cycle are counted before it).
func seedFleet(ctx context.Context, b *testing.B, api fleetAPI, sim *simFleet, mem func() (memClasses, float64), logs *cycleLogState, dataDir string, ids []int64, size fleetSize, bound time.Duration) {
	b.Helper()
	path := filepath.Join(dataDir, controller.DBFile)
	nodes := make([]store.Node, len(ids))
	for i, id := range ids {
		nodes[i] = store.Node{ID: id, Name: fmt.Sprintf("node-%05d", i), WGInterface: "wg0",
			IPPool: netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256))}
	}
	t0 := time.Now()
	var seeded, want int
	if size.procs == 0 {
		seeded, want = storetest.SeedPendingPeers(b, path, nodes, size.peers)
	} else {
		seeded, want = seedInChild(b, path, nodes, size.peers, bound)
	}
	seededAt := time.Now()
	b.Logf("seeded %d peers (%d for the agents) in %v", seeded, want, seededAt.Sub(t0).Round(time.Millisecond))
	progress("seeded %d peers (%d for the agents) in %v", seeded, want, seededAt.Sub(t0).Round(time.Millisecond))
	waitFor(b, bound, "every seeded peer on its agent", func() bool { return sim.stats(b).arrivals >= want })
	last := sim.stats(b).last
	after := len(logs.snapshot())
	stopProfile, cpu0 := phaseProfile(b, "WGFLEET_FLEET_IDLE_PROFILE"), cpuTime(b)
	idle := idleCyclesAfter(b)
	waitFor(b, bound, fmt.Sprintf("%d poll cycles after the seed", idle), func() bool { return len(logs.snapshot()) >= after+idle })
	cpu, cpuCycles := cpuTime(b)-cpu0, len(logs.snapshot())-after
	stopProfile()
	all := logs.snapshot()
	// The first cycle after the last arrival may have started before it.
	full := all[after+1:]
	drift := fleetDrift(ctx, b, api)
	periods := cyclePeriods(all, size.interval)
	b.ReportMetric(float64(seeded), "seeded-peers")
	b.ReportMetric(float64(want), "on-agent-peers")
	b.ReportMetric(last.Sub(seededAt).Seconds(), "seed-to-agent-s")
	b.ReportMetric(float64(maxTook(full).Microseconds())/1000, "full-cycle-ms")
	b.ReportMetric(float64(all[len(all)-1].took.Microseconds())/1000, "last-cycle-ms")
	b.ReportMetric(slices.Min(periods), "period/interval-min")
	b.ReportMetric(slices.Max(periods), "period/interval")
	b.ReportMetric(float64(drift), "false-drift")
	reportRSS(b, sim, mem, size, cpu, cpuCycles)
	b.Logf("%d nodes x %d peers seeded, interval %v; %d cycles; %s",
		size.nodes, size.peers, size.interval, len(all), logs)
}

// idleCyclesAfter is how many poll cycles the seeded run measures once
// every seeded peer is on its agent: 3, or WGFLEET_FLEET_IDLE_CYCLES (up
// to 10). The first cycles after a seed still compare every node in full
// (no digest yet); more of them show the steady state (last-cycle-ms).
func idleCyclesAfter(b *testing.B) int {
	e := os.Getenv("WGFLEET_FLEET_IDLE_CYCLES")
	if e == "" {
		return 3
	}
	n, err := strconv.Atoi(e)
	if err != nil || n < 2 || n > 10 {
		b.Fatalf("WGFLEET_FLEET_IDLE_CYCLES=%q: want a number from 2 to 10", e)
	}
	return n
}
