package controller_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/controllertest"
)

// fleetSize is one run of BenchmarkControllerFleet.
type fleetSize struct {
	nodes, peers, clients int
	interval              time.Duration
	// seed writes the peers straight into the database
	// (storetest.SeedPeers) instead of creating them through the API:
	// WGFLEET_FLEET_SEED=1, for fleets whose creation would not fit the
	// time (10,000 x 100).
	seed bool
	// procs is how many child processes serve the simulated agents
	// (fleetsimproc_test.go); 0 serves them in this process.
	procs int
	// memLimit is the controller's Config.MemoryLimit, in bytes:
	// WGFLEET_FLEET_MEMORY_LIMIT_MIB, this process only (GOMEMLIMIT would
	// reach the children too); 0 for none.
	memLimit int64
	// pollWorkers is the controller's Config.PollWorkers, how many agents
	// a poll cycle reads at once: WGFLEET_FLEET_POLL_WORKERS; 0 for the
	// default (poller.DefaultWorkers).
	pollWorkers int
	// pollSpread is the controller's Config.PollSpread, the share of the
	// interval a cycle's polls are paced over: WGFLEET_FLEET_POLL_SPREAD;
	// 0 for the default (controller.DefaultPollSpread), negative for none.
	pollSpread float64
	// rate paces the creations in open loop, creations a second over all
	// clients (WGFLEET_FLEET_RATE, creationLoad); 0 is the closed loop,
	// the figure issue 14's target is judged on.
	rate float64
}

// benchFleetSize is issue 14's 1,000 nodes x 100 peers by 50 clients with
// a 10 s poll interval, 20 nodes x 5 peers with a 2 s interval with
// -short; WGFLEET_FLEET_NODES, _PEERS, _CLIENTS and _INTERVAL change it,
// WGFLEET_FLEET_RATE paces the creations in open loop,
// WGFLEET_FLEET_POLL_WORKERS sets how many agents a cycle reads at once,
// WGFLEET_FLEET_POLL_SPREAD the share of the interval its polls are paced
// over (negative: not paced).
// The simulated agents run in child processes of up to simProcAgents
// agents each, in this process with -short (a run of a few seconds);
// WGFLEET_FLEET_AGENT_PROCS sets how many children (0: this process).
func benchFleetSize(tb testing.TB) fleetSize {
	s := fleetSize{nodes: 1000, peers: 100, clients: 50, interval: 10 * time.Second}
	if testing.Short() {
		s = fleetSize{nodes: 20, peers: 5, clients: 50, interval: 2 * time.Second}
	}
	for _, v := range []struct {
		env string
		to  *int
	}{{"WGFLEET_FLEET_NODES", &s.nodes}, {"WGFLEET_FLEET_PEERS", &s.peers}, {"WGFLEET_FLEET_CLIENTS", &s.clients}} {
		if e := os.Getenv(v.env); e != "" {
			n, err := strconv.Atoi(e)
			if err != nil || n < 1 {
				tb.Fatalf("%s=%q: want a positive number", v.env, e)
			}
			*v.to = n
		}
	}
	if e := os.Getenv("WGFLEET_FLEET_INTERVAL"); e != "" {
		d, err := time.ParseDuration(e)
		if err != nil || d < time.Second {
			tb.Fatalf("WGFLEET_FLEET_INTERVAL=%q: want a duration of 1s or more", e)
		}
		s.interval = d
	}
	s.seed = os.Getenv("WGFLEET_FLEET_SEED") == "1"
	if e := os.Getenv("WGFLEET_FLEET_RATE"); e != "" {
		r, err := strconv.ParseFloat(e, 64)
		if err != nil || r <= 0 || math.IsInf(r, 0) || s.seed {
			tb.Fatalf("WGFLEET_FLEET_RATE=%q: want creations a second above 0 (and no WGFLEET_FLEET_SEED)", e)
		}
		s.rate = r
	}
	if e := os.Getenv("WGFLEET_FLEET_MEMORY_LIMIT_MIB"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < controller.MinMemoryLimit>>20 {
			tb.Fatalf("WGFLEET_FLEET_MEMORY_LIMIT_MIB=%q: want a number of MiB, at least %d", e, controller.MinMemoryLimit>>20)
		}
		s.memLimit = int64(n) << 20
	}
	if e := os.Getenv("WGFLEET_FLEET_POLL_WORKERS"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 1 || n > controller.MaxPollWorkers {
			tb.Fatalf("WGFLEET_FLEET_POLL_WORKERS=%q: want 1 to %d agents read at once", e, controller.MaxPollWorkers)
		}
		s.pollWorkers = n
	}
	if e := os.Getenv("WGFLEET_FLEET_POLL_SPREAD"); e != "" {
		f, err := strconv.ParseFloat(e, 64)
		if err != nil || f >= 1 || math.IsNaN(f) || math.IsInf(f, 0) {
			tb.Fatalf("WGFLEET_FLEET_POLL_SPREAD=%q: want a fraction of the interval below 1 (negative: no pacing)", e)
		}
		s.pollSpread = f
	}
	if s.nodes > 60000 || s.peers > 250 {
		tb.Fatalf("at most 60000 nodes (loopback ports) and 250 peers a node (one /24 each)")
	}
	if !testing.Short() {
		s.procs = (s.nodes + simProcAgents - 1) / simProcAgents
	}
	if e := os.Getenv("WGFLEET_FLEET_AGENT_PROCS"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 0 || n > s.nodes {
			tb.Fatalf("WGFLEET_FLEET_AGENT_PROCS=%q: want 0 (agents in this process) to the number of nodes", e)
		}
		s.procs = n
	}
	return s
}

// BenchmarkControllerFleet is issue 14 item 6: a real controller (store,
// API, poller, reconciler) in this process and simulated agents
// (agenttest's Fake, fleetsim_test.go), each on its own loopback port, in
// child processes (or this one: fleetSize.procs). It registers the
// nodes through the API, lets the poller warm up, then 50 clients create
// every node's peers through the API while the poller runs, and measures:
//
//   - create-p50-ms, create-p99-ms, create/s: the POSTs' latency and rate;
//     with WGFLEET_FLEET_RATE=N the creations are paced at N a second in
//     open loop (creationLoad) and open-p50-ms, open-p99-ms (from the
//     moment each was due), service-p50-ms, service-p99-ms (from its send)
//     and send-lag-p99-ms replace the first two;
//   - in-cycle-service-p50-ms, -p99-ms and between-cycles-service-p50-ms,
//     -p99-ms: the service times (from the send) of the creations sent
//     while a poll cycle ran and of the others; sent-in-cycle/all, the
//     share of the first;
//   - burst-cpu-ms/creation: the CPU time of this process (the controller
//     and the clients; not the children's agents) over the creations, per
//     creation;
//   - to-agent-p50-ms, to-agent-p99-ms: from a POST's 201 to the peer on
//     its agent;
//   - cycle-ms (idle, before the creations: no peers), full-cycle-ms
//     (idle, after them: every peer on its agent), burst-cycle-max-ms
//     (the longest cycle during them), period/interval min and max (how
//     far cycle starts drift from the interval, jitter included);
//   - dials/warm-cycle: connections the controller opened per poll cycle
//     once warm (the baseline: one per agent on the first cycle);
//   - false-drift: drift_count summed over the nodes; nothing was changed
//     behind the controller's back, so anything above 0 is false;
//   - peak-RSS-MiB: the peak resident memory of this process plus that of
//     each child serving simulated agents (the whole); with the agents in
//     children, controller-RSS-MiB is this process's alone (the
//     controller and the benchmark's clients), agents-RSS-MiB the
//     children's, and controller-ms/node-cycle the CPU this process
//     spent over the idle cycles after the creations, per node and cycle.
//
// Every load is bounded: the creations in number, each phase in time
// (a phase that overruns fails the benchmark). See docs/BENCHMARKS.md.
//
//	go test -run '^$' -bench ControllerFleet -benchtime 1x ./controller
func BenchmarkControllerFleet(b *testing.B) {
	size := benchFleetSize(b)
	for i := 0; i < b.N; i++ {
		runFleet(b, size)
	}
}

// cycleLog catches the poller's "poll cycle" debug records and counts
// the controller's errors and warnings (the HTTP server's own complaints,
// such as a failed accept, are warnings); everything else is dropped
// unformatted.
type cycleLog struct {
	poller bool
	st     *cycleLogState
}

type cycleLogState struct {
	mu     sync.Mutex
	cycles []pollCycle
	errors int
	first  []string
	warns  int
	firstW []string
}

// String is the errors and warnings logged so far, counted, with the
// first few of each.
func (st *cycleLogState) String() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return fmt.Sprintf("controller errors logged: %d %q; warnings: %d %q", st.errors, st.first, st.warns, st.firstW)
}

type pollCycle struct {
	start time.Time
	took  time.Duration
}

func (h cycleLog) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.poller && l >= slog.LevelDebug
}

func (h cycleLog) Handle(_ context.Context, r slog.Record) error {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		count, first := &h.st.errors, &h.st.first
		if r.Level < slog.LevelError {
			count, first = &h.st.warns, &h.st.firstW
		}
		*count++
		if len(*first) < 5 {
			msg := r.Message
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "err" {
					msg += ": " + a.Value.String()
				}
				return true
			})
			*first = append(*first, msg)
		}
		return nil
	}
	if r.Message != "poll cycle" {
		return nil
	}
	var (
		c      pollCycle
		counts []string // how many nodes were reconciled, and compared by digest
	)
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "started":
			c.start = a.Value.Time()
		case "took":
			c.took = a.Value.Duration()
		case "polled", "reconciled", "unchanged", "stats_unchanged", "polls_took", "spread":
			counts = append(counts, a.Key+" "+a.Value.String())
		}
		return true
	})
	h.st.cycles = append(h.st.cycles, c)
	progress("poll cycle %d took %v (%s)", len(h.st.cycles), c.took.Round(time.Millisecond), strings.Join(counts, ", "))
	return nil
}

func (h cycleLog) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		if a.Key == "component" && a.Value.String() == "poller" {
			h.poller = true
		}
	}
	return h
}

func (h cycleLog) WithGroup(string) slog.Handler { return h }

func (s *cycleLogState) snapshot() []pollCycle {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cycles)
}

// fleetAPI calls the controller's API with a token.
type fleetAPI struct {
	url, token string
	hc         *http.Client
}

func (a fleetAPI) call(ctx context.Context, method, path string, in, out any) (int, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	var body io.Reader
	if in != nil {
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	var conn httptrace.GotConnInfo // what connection a failed call went out on
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conn = i }}))
	sent := time.Now()
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w (after %v, on a connection reused %v, idle %v before)", err, time.Since(sent).Round(time.Millisecond), conn.Reused, conn.IdleTime.Round(time.Millisecond))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
		return resp.StatusCode, json.Unmarshal(env.Data, out)
	}
	return resp.StatusCode, nil
}

// waitFor polls cond every 50 ms until it holds; it fails the benchmark
// after d.
func waitFor(b *testing.B, d time.Duration, what string, cond func() bool) {
	b.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			progress("%s: not within %v", what, d)
			b.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	progress("%s: after %v", what, time.Since(start).Round(time.Millisecond))
}

func runFleet(b *testing.B, size fleetSize) {
	b.StopTimer()
	defer heapAtPeak(b)()
	mem := memWatch(b)
	defer mem()
	sim := startSimFleet(b, size.nodes, size.procs)
	logs := &cycleLogState{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dataDir := b.TempDir()
	c, err := controller.New(ctx, controller.Config{
		Listen: "127.0.0.1:0", DataDir: dataDir, PollInterval: size.interval,
		AdminPassword: controllertest.AdminPassword, Logger: slog.New(cycleLog{st: logs}),
		MemoryLimit: size.memLimit, PollWorkers: size.pollWorkers, PollSpread: size.pollSpread,
	})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("controller stopped with %v", err)
		}
	}()
	if size.memLimit > 0 {
		defer debug.SetMemoryLimit(math.MaxInt64) // the benchmark's next run starts without
	}
	token, _, err := c.Auth().CreateToken(ctx, "bench", "fleet-bench", 0)
	if err != nil {
		b.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = size.clients
	api := fleetAPI{url: "http://" + ln.Addr().String(), token: token, hc: &http.Client{Transport: tr, Timeout: time.Minute}}

	// Register the nodes, 8 at a time.
	ids := make([]int64, size.nodes)
	setup := time.Now()
	stopProfile := phaseProfile(b, "WGFLEET_FLEET_REGISTER_PROFILE")
	progress("registering %d nodes (%d child processes serve their agents; poll workers %d, 0: the default; poll spread %v, 0: the default, negative: none)",
		size.nodes, size.procs, size.pollWorkers, size.pollSpread)
	parallel(b, 8, size.nodes, func(i int) error {
		var n struct {
			ID int64 `json:"id"`
		}
		_, err := api.call(ctx, http.MethodPost, "/api/nodes", map[string]any{
			"name": fmt.Sprintf("node-%05d", i), "agent_url": sim.nodes[i].url, "secret": sim.nodes[i].secret,
			"wg_interface": "wg0", "endpoint": "127.0.0.1:51820", "enabled": true,
			"ip_pool_cidr": fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256),
		}, &n)
		ids[i] = n.ID
		return err
	})
	stopProfile()
	b.Logf("registered %d nodes in %v", size.nodes, time.Since(setup).Round(time.Millisecond))
	progress("registered %d nodes in %v", size.nodes, time.Since(setup).Round(time.Millisecond))

	// Warm up: two cycles reach every agent; then count the connections
	// the next two idle cycles open.
	bound := 20*size.interval + 2*time.Minute
	waitFor(b, bound, "two poll cycles", func() bool { return sim.stats(b).minPolls >= 2 })
	firstDials := sim.stats(b).accepts
	warm0 := len(logs.snapshot())
	waitFor(b, bound, "two more poll cycles", func() bool { return len(logs.snapshot()) >= warm0+3 })
	warmDials := float64(sim.stats(b).accepts-firstDials) / 3
	idle := logs.snapshot()[warm0:]
	defer machineLock(b)()

	if size.seed {
		b.ReportMetric(float64(firstDials), "dials/first-cycles")
		b.ReportMetric(warmDials, "dials/warm-cycle")
		seedFleet(ctx, b, api, sim, mem, logs, dataDir, ids, size, bound)
		return
	}

	// The burst: every node's peers, round robin over the nodes, by
	// size.clients clients.
	total := size.nodes * size.peers
	keys := make([]string, total)
	for i := range keys {
		var k [32]byte
		_, _ = rand.Read(k[:])
		k[0] &= 248 // clamped like a Curve25519 private key: never a low-order point's encoding
		k[31] = (k[31] & 127) | 64
		keys[i] = base64.StdEncoding.EncodeToString(k[:])
	}
	burstFrom := len(logs.snapshot())
	if size.rate > 0 {
		progress("creating %d peers in open loop at %.0f a second by %d clients", total, size.rate, size.clients)
	}
	stopProfile = phaseProfile(b, "WGFLEET_FLEET_BURST_PROFILE")
	b.StartTimer()
	start, burstCPU := time.Now(), cpuTime(b)
	ct, err := creationLoad(size.clients, total, size.rate, func(j int) error {
		node := ids[j%size.nodes]
		_, err := api.call(ctx, http.MethodPost, fmt.Sprintf("/api/nodes/%d/peers", node),
			map[string]any{"name": fmt.Sprintf("p%d", j), "public_key": keys[j]}, nil)
		return err
	})
	burst, burstCPU := time.Since(start), cpuTime(b)-burstCPU
	b.StopTimer()
	stopProfile()
	if err != nil {
		b.Fatalf("%v; %s", err, logs)
	}
	at201 := ct.done
	lat, service, lag := make([]time.Duration, total), make([]time.Duration, total), make([]time.Duration, total)
	for j := range total {
		lat[j], service[j], lag[j] = ct.latency(j), ct.service(j), ct.lag(j)
	}
	waitFor(b, bound, "every peer on its agent", func() bool { return sim.stats(b).arrivals >= total })
	burstCycles := logs.snapshot()[burstFrom:]

	arrived := sim.arrived(b)
	toAgent := make([]time.Duration, total)
	for j, k := range keys {
		// Wall clocks: a child's times carry no monotonic reading.
		toAgent[j] = max(0, time.Duration(arrived[k].UnixNano()-at201[j].UnixNano()))
	}
	// Two idle cycles after the burst, then the drift the controller
	// counted.
	after := len(logs.snapshot())
	stopProfile = phaseProfile(b, "WGFLEET_FLEET_IDLE_PROFILE")
	cpu0 := cpuTime(b)
	waitFor(b, bound, "two poll cycles after the burst", func() bool { return len(logs.snapshot()) >= after+2 })
	cpu, cpuCycles := cpuTime(b)-cpu0, len(logs.snapshot())-after
	stopProfile()
	drift := fleetDrift(ctx, b, api)
	all := logs.snapshot()
	periods := cyclePeriods(all, size.interval)
	full := all[after:]

	slices.Sort(lat)
	slices.Sort(service)
	slices.Sort(lag)
	slices.Sort(toAgent)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	if size.rate > 0 {
		// Open loop: latency from the moment each creation was due; its
		// service time from its send; the wait for a free client between.
		b.ReportMetric(size.rate, "offered/s")
		b.ReportMetric(ms(pct(lat, 50)), "open-p50-ms")
		b.ReportMetric(ms(pct(lat, 99)), "open-p99-ms")
		b.ReportMetric(ms(pct(service, 50)), "service-p50-ms")
		b.ReportMetric(ms(pct(service, 99)), "service-p99-ms")
		b.ReportMetric(ms(pct(lag, 99)), "send-lag-p99-ms")
	} else {
		b.ReportMetric(ms(pct(lat, 50)), "create-p50-ms")
		b.ReportMetric(ms(pct(lat, 99)), "create-p99-ms")
	}
	b.ReportMetric(float64(total)/burst.Seconds(), "create/s")
	b.ReportMetric(float64(burstCPU.Microseconds())/1000/float64(total), "burst-cpu-ms/creation")
	b.ReportMetric(ms(pct(toAgent, 50)), "to-agent-p50-ms")
	b.ReportMetric(ms(pct(toAgent, 99)), "to-agent-p99-ms")
	b.ReportMetric(ms(maxTook(idle)), "cycle-ms")
	b.ReportMetric(ms(maxTook(full)), "full-cycle-ms")
	b.ReportMetric(ms(maxTook(burstCycles)), "burst-cycle-max-ms")
	if during, between := ct.byCycle(burstCycles); len(during) > 0 && len(between) > 0 {
		// Service times of the creations sent while a poll cycle ran, and
		// of the others.
		b.ReportMetric(float64(len(during))/float64(total), "sent-in-cycle/all")
		b.ReportMetric(ms(pct(during, 50)), "in-cycle-service-p50-ms")
		b.ReportMetric(ms(pct(during, 99)), "in-cycle-service-p99-ms")
		b.ReportMetric(ms(pct(between, 50)), "between-cycles-service-p50-ms")
		b.ReportMetric(ms(pct(between, 99)), "between-cycles-service-p99-ms")
	}
	b.ReportMetric(slices.Min(periods), "period/interval-min")
	b.ReportMetric(slices.Max(periods), "period/interval")
	b.ReportMetric(float64(firstDials), "dials/first-cycles")
	b.ReportMetric(warmDials, "dials/warm-cycle")
	b.ReportMetric(float64(drift), "false-drift")
	reportRSS(b, sim, mem, size, cpu, cpuCycles)
	b.Logf("%d nodes x %d peers by %d clients (%s), interval %v: %d creations in %v; %d cycles (%d during the burst); %s",
		size.nodes, size.peers, size.clients, loopName(size.rate), size.interval, total, burst.Round(time.Millisecond), len(all), len(burstCycles), logs)
}

// loopName says how the creations were paced.
func loopName(rate float64) string {
	if rate > 0 {
		return fmt.Sprintf("open loop, %g a second", rate)
	}
	return "closed loop"
}

// fleetDrift is drift_count summed over the nodes.
func fleetDrift(ctx context.Context, b *testing.B, api fleetAPI) int64 {
	b.Helper()
	var nodes []struct {
		DriftCount int64 `json:"drift_count"`
	}
	if _, err := api.call(ctx, http.MethodGet, "/api/nodes", nil, &nodes); err != nil {
		b.Fatal(err)
	}
	var drift int64
	for _, n := range nodes {
		drift += n.DriftCount
	}
	return drift
}

// parallel runs fn(0..n-1) on workers goroutines and fails the benchmark
// with the first error, after all have ended: creationLoad's closed loop,
// its times unused.
func parallel(b *testing.B, workers, n int, fn func(i int) error) {
	b.Helper()
	if _, err := creationLoad(workers, n, 0, fn); err != nil {
		b.Fatal(err)
	}
}

// cyclePeriods is each gap between two cycle starts over the interval.
func cyclePeriods(cs []pollCycle, interval time.Duration) []float64 {
	out := []float64{1}
	for i := 1; i < len(cs); i++ {
		out = append(out, float64(cs[i].start.Sub(cs[i-1].start))/float64(interval))
	}
	if len(out) > 1 {
		out = out[1:]
	}
	return out
}

func maxTook(cs []pollCycle) time.Duration {
	var m time.Duration
	for _, c := range cs {
		m = max(m, c.took)
	}
	return m
}

// pct is the p-th percentile of sorted ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, len(ds)*p/100)]
}

// reportRSS reports peak-RSS-MiB (this process and the children serving
// simulated agents) and, when the agents run in children, this process's
// own (controller-RSS-MiB), the children's (agents-RSS-MiB) and
// controller-ms/node-cycle: cpu, this process's CPU time over cycles
// idle cycles, per node and cycle. controller-live-heap-MiB is the
// largest live heap of this process a collection found (mem, sampled
// every second), and the log says how the runtime accounted for the
// highest resident memory sampled.
func reportRSS(b *testing.B, sim *simFleet, mem func() (memClasses, float64), size fleetSize, cpu time.Duration, cycles int) {
	self, agents := peakRSSMiB("self"), sim.agentsPeakRSSMiB()
	atPeak, maxLive := mem()
	b.ReportMetric(maxLive/(1<<20), "controller-live-heap-MiB")
	b.Logf("at the highest resident memory sampled: %v", atPeak)
	progress("at the highest resident memory sampled: %v", atPeak)
	b.ReportMetric(self+agents, "peak-RSS-MiB")
	if size.procs == 0 {
		return
	}
	b.ReportMetric(self, "controller-RSS-MiB")
	b.ReportMetric(agents, "agents-RSS-MiB")
	if cycles > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(size.nodes*cycles), "controller-ms/node-cycle")
	}
}

// phaseProfile starts a CPU profile of this process into the file the
// environment variable env names, if it names one, for one phase of the
// run (-test.cpuprofile covers the whole run: the registration and the
// seed too): WGFLEET_FLEET_REGISTER_PROFILE the nodes' registration,
// WGFLEET_FLEET_BURST_PROFILE the creations, WGFLEET_FLEET_IDLE_PROFILE
// the idle cycles after the creations or the seed. The returned function
// stops it.
func phaseProfile(b *testing.B, env string) (stop func()) {
	path := os.Getenv(env)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatalf("%s (not beside -test.cpuprofile): %v", env, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// heapAtPeak writes this process's heap profile into the file
// WGFLEET_FLEET_HEAP_PROFILE names, if it names one, each time its
// resident memory (read every second) has grown 5% over the last time it
// did, so that the file ends up holding the heap near the peak. The
// returned function stops it and waits for it.
func heapAtPeak(b *testing.B) (stop func()) {
	path := os.Getenv("WGFLEET_FLEET_HEAP_PROFILE")
	if path == "" {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		written := 0.0
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			rss := rssMiB("self", "VmRSS:")
			if rss < written*1.05 {
				continue
			}
			f, err := os.Create(path)
			if err != nil {
				b.Error(err)
				return
			}
			err = pprof.WriteHeapProfile(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				b.Error(err)
				return
			}
			written = rss
			progress("heap profile written at %.0f MiB resident; %v", rss, readMemClasses())
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// machineLock takes the lock file WGFLEET_FLEET_LOCK names (flock, as
// flock(1) does), if it names one, and returns its release: a run on a
// shared machine can register its nodes and warm up unlocked, and hold
// the machine only from the seed or the creations on, where its figures
// are measured. Both ends log the load average.
func machineLock(b *testing.B) (release func()) {
	path := os.Getenv("WGFLEET_FLEET_LOCK")
	if path == "" {
		return func() {}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	progress("waiting for the machine lock %s", path)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		b.Fatalf("locking %s: %v", path, err)
	}
	from := time.Now()
	load, _ := os.ReadFile("/proc/loadavg")
	progress("took the machine lock; load %s", bytes.TrimSpace(load))
	b.Logf("took the machine lock %s; load %s", path, bytes.TrimSpace(load))
	return func() {
		load, _ := os.ReadFile("/proc/loadavg")
		progress("releasing the machine lock after %v; load %s", time.Since(from).Round(time.Second), bytes.TrimSpace(load))
		b.Logf("held the machine lock %v; load at the end %s", time.Since(from).Round(time.Second), bytes.TrimSpace(load))
		f.Close() // releases the lock
	}
}

// progress writes a line on what the run has reached to the standard
// error, so that a long run that fails or is cut short still says where
// it was (b.Logf prints only once the benchmark ends).
func progress(format string, args ...any) {
	if testing.Short() {
		return
	}
	fmt.Fprintf(os.Stderr, "controller-fleet %s: %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSMiB is process pid's peak resident memory (VmHWM; pid "self"
// for this one); 0 where /proc is missing.
func peakRSSMiB(pid string) float64 {
	return rssMiB(pid, "VmHWM:")
}

// rssMiB is the field of process pid's status (VmHWM:, VmRSS:), in MiB.
func rssMiB(pid, field string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(field)); ok {
			kb, _ := strconv.Atoi(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))))
			return float64(kb) / 1024
		}
	}
	return 0
}
