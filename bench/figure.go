package main

import "time"

// figure is one line of the suite: one Go benchmark and how to run it.
type figure struct {
	// Name is what -only selects and the table shows.
	Name string
	// Pkg is the package directory, relative to the module root.
	Pkg string
	// Bench is the benchmark's name, without "Benchmark".
	Bench string
	// Benchtime is go test's -benchtime for a full run; Quick for -quick.
	Benchtime, Quick string
	// Short passes -short on a -quick run: the benchmark's own smaller
	// load.
	Short bool
	// Timeout bounds one run of the figure (go test -timeout and the
	// subprocess).
	Timeout time.Duration
	// Headline names the metrics the table shows, in order; empty shows
	// every metric the benchmark reported.
	Headline []string
	// What says in a few words what is measured against what.
	What string
}

// suite is every figure, in the order they run.
func suite() []figure {
	return []figure{
		{
			Name: "egress-policy", Pkg: "./tunnel/egress", Bench: "PolicyCheck",
			Benchtime: "1s", Quick: "1000x", Timeout: 2 * time.Minute,
			Headline: []string{"ns/op", "allocs/op"},
			What:     "egress policy check per forwarded packet",
		},
		{
			Name: "ipam-next-free", Pkg: "./controller/ipam", Bench: "NextFree",
			Benchtime: "1s", Quick: "100x", Timeout: 2 * time.Minute,
			Headline: []string{"ns/op"},
			What:     "next free address in a large pool",
		},
		{
			Name: "agent-peer-creation", Pkg: "./agent", Bench: "PeerCreation",
			Benchtime: "1x", Quick: "1x", Timeout: 5 * time.Minute,
			Headline: []string{"seq-peers/s", "conc64-peers/s", "conc/seq"},
			What:     "signed peer creations, 64 at once vs one at a time",
		},
		{
			Name: "agent-peer-set-scale", Pkg: "./agent", Bench: "PeerSetScale",
			Benchtime: "1x", Quick: "1x", Short: true, Timeout: 20 * time.Minute,
			Headline: []string{"set/raw", "set-ms", "raw-set-ms", "dump/raw", "dump-ms", "dump-agent-ms", "raw-get-ms", "raw-getop-ms",
				"add-rtt-ms", "add-agent-ms", "raw-add-ms", "fsync-ms"},
			What: "replace-all, dump and add-one at 10k (and 60k) peers vs raw wireguard-go IpcSet/IpcGet",
		},
		{
			Name: "agent-change-cpu", Pkg: "./agent", Bench: "ChangeCPU",
			Benchtime: "1x", Quick: "1x", Short: true, Timeout: 10 * time.Minute,
			Headline: []string{"cpu/raw", "agent-cpu-ms/change", "raw-cpu-ms/change", "alloc/raw", "agent-alloc-KiB/change",
				"raw-alloc-KiB/change", "agent-changes/s", "agent-dispatches/change", "agent-kworker-cpu-ms/change", "cpu/base", "cpu+kworker/base"},
			What: "CPU and allocation per peer change (add, remove) at 10k peers through wg-agent's API vs raw wireguard-go IpcSet",
		},
		{
			Name: "agent-memory", Pkg: "./agent", Bench: "AgentMemory",
			Benchtime: "1x", Quick: "1x", Short: true, Timeout: 20 * time.Minute,
			Headline: []string{"idle-RSS-MiB", "hold-RSS-MiB", "bare-hold-MiB", "hold-inc/bare-inc",
				"churn-first-MiB", "churn-last-MiB", "churn/first", "churn-trend", "bare-churn/first"},
			What: "wg-agent's resident memory idle, holding 60k (10k) peers vs a bare device, ten 10k swaps",
		},
		{
			Name: "reconcile-fleet", Pkg: "./controller/reconcile", Bench: "ReconcileFleet",
			Benchtime: "3x", Quick: "1x", Short: true, Timeout: 10 * time.Minute,
			Headline: []string{"ns/op", "calls/node", "drifted/node"},
			What:     "reconcile of 100 nodes x 1,000 peers, 1% drift vs 0%",
		},
		{
			Name: "controller-fleet", Pkg: "./controller", Bench: "ControllerFleet",
			Benchtime: "1x", Quick: "1x", Short: true, Timeout: 30 * time.Minute,
			Headline: []string{"create-p50-ms", "create-p99-ms", "open-p50-ms", "open-p99-ms", "service-p99-ms", "create/s", "to-agent-p99-ms", "cycle-ms",
				"burst-cycle-max-ms", "period/interval", "dials/warm-cycle", "false-drift", "peak-RSS-MiB", "controller-RSS-MiB"},
			What: "controller with simulated agents (child processes): 50 clients create peers while it polls (WGFLEET_FLEET_* size it)",
		},
		{
			Name: "peer-search", Pkg: "./controller/api", Bench: "PeerSearch",
			Benchtime: "1x", Quick: "1x", Short: true, Timeout: 10 * time.Minute,
			Headline: []string{"first-page-ms", "search-ms", "search-miss-ms", "node-ms", "status-ms", "label-ms", "deep-page-ms", "peers"},
			What:     "GET /api/peers at 100k peers (10k quick): first page, searches, filters, a deep page",
		},
		{
			Name: "fleet-peers-ui", Pkg: "./controller/ui", Bench: "FleetPeersPage",
			Benchtime: "1x", Quick: "1x", Short: true, Timeout: 15 * time.Minute,
			Headline: []string{"first-render-ms", "search-ms", "status-ms", "node-ms", "all-ms", "more-ms", "peers"},
			What:     "the Peers page in headless Chromium at 100k peers (10k quick): first page drawn, each filter's rows painted",
		},
		{
			Name: "replicas", Pkg: "./cmd/wg-controller", Bench: "Replicas",
			Benchtime: "1x", Quick: "1x", Short: true, Timeout: 15 * time.Minute,
			Headline: []string{"1-replica-peers/s", "2-replica-peers/s", "2/1", "failover-ms", "repair-ms", "poll-s"},
			What:     "wg-controller processes on one PostgreSQL: peer creation over the API, two replicas vs one; kill -9 of the leader to another leading, and to a removed peer repaired",
		},
		{
			Name: "login-flood", Pkg: "./controller", Bench: "LoginFlood",
			Benchtime: "1x", Quick: "1x", Timeout: 5 * time.Minute,
			Headline: []string{"peak-RSS-MiB", "nodes-p50-ms", "nodes-p95-ms"},
			What:     "GET /api/nodes during a login flood (issue 10)",
		},
		{
			Name: "agent-unauth-flood", Pkg: "./agent", Bench: "UnauthenticatedFlood",
			Benchtime: "1x", Quick: "1x", Timeout: 5 * time.Minute,
			Headline: []string{"peak-RSS-MiB", "signed-ok", "signed-failed", "signed-median-ms"},
			What:     "signed requests during 1,000 unsigned 1 MiB bodies (issue 10)",
		},
		{
			Name: "traffic-history", Pkg: "./controller/store", Bench: "TrafficHistory",
			Benchtime: "1x", Quick: "1x", Short: true, Timeout: 60 * time.Minute,
			Headline: []string{"peers", "minute-rows", "hour-rows", "day-rows", "used-MiB", "bytes/row", "KiB/peer",
				"record-1k-max-ms", "record-poll-max-ms", "rollup-hour-max-ms", "older-days-s", "last-day-s", "last-hour-s"},
			What: "traffic history of 10k peers (1k with -quick) busy every minute for 30 days, through the real writes and rollup: rows and SQLite bytes",
		},
		{
			Name: "data-plane", Pkg: "./cmd/wg-agent", Bench: "DataPlane",
			Benchtime: "1x", Quick: "1x", Short: true, Timeout: 15 * time.Minute,
			Headline: []string{"tun/raw-up", "tun/raw-down", "tun-churn/raw-up", "tun-churn/raw-down",
				"tun-churn/raw-churn-up", "tun-churn/raw-churn-down", "netstack/tun-up", "netstack/tun-down", "raw-up-Mbit/s", "raw-down-Mbit/s", "veth-up-Mbit/s",
				"churn-changes/s"},
			What: "iperf3 through a node both ways, client wireguard-go in its own netns: TUN agent vs wireguard-go, netstack vs TUN (root, iperf3)",
		},
	}
}
