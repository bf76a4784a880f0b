package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// BenchmarkDataPlane measures TCP throughput with iperf3 through a node,
// both ways, in one run (issue 14 items 2 and 5). Every leg has namespaces
// of its own: A is the node's host network, with the iperf3 server on
// 172.31.9.1 (an address of A that B reaches only through the tunnel);
// B holds the client, a wireguard-go program in a process of its own.
// wireguard-go is built from the module's own wireguard-go (the version
// the agent embeds, with TUN and UDP offloads), for the client and for the
// raw node alike; Debian's is from 2022, without offloads, and would be
// the bottleneck. The legs:
//
//   - veth: iperf3 from B to A over the plain veth, no tunnel: the ceiling
//     of everything else;
//   - raw: wireguard-go's own program as the node, on a TUN interface in A;
//   - tun: the agent in TUN mode (root) in the same place;
//   - tun-churn: the same while the API applies 100 peer changes a second
//     (one added, one removed, alternately) to an interface of 10k peers
//     (1k with -short);
//   - raw-churn: the raw node given the same 10k peers and the same 100
//     changes a second through its UAPI socket, as wg(8) would: the
//     device's own cost of holding and changing the peers, the baseline
//     of what an agent adds to a churn (tun-churn/raw-churn);
//   - netstack: the agent unprivileged, in netstack mode, forwarding to A's
//     host network in user space;
//   - tun-10k (only when WGFLEET_PLANE_LEGS names it): the TUN agent with
//     the 10k peers of tun-churn and no changes, which tells the cost of
//     holding the peers from the cost of changing them.
//
// Each leg runs iperf3 for WGFLEET_PLANE_SECONDS (5; 2 with -short) after
// a second left out (-O 1), client to host ("up") and host to client
// ("down", iperf3 -R). It reports Mbit/s of each, the CPU of the node
// and client processes (percent of one CPU, over both directions), and
// the ratios tun/raw, tun-churn/raw, tun-churn/raw-churn and netstack/tun
// each way. During a
// churn it also reports the benchmark's own CPU (the client making the
// changes, which competes for the same CPUs) as <leg>-bench-CPU%.
// WGFLEET_PLANE_LEGS picks legs by name; WGFLEET_PLANE_PERF=dir records a
// perf(1) profile of the node during each run.
//
//	sudo go test -run '^$' -bench DataPlane -benchtime 1x ./cmd/wg-agent/
func BenchmarkDataPlane(b *testing.B) {
	requireTopology(b)
	testenv.RequireCommand(b, "iperf3", "iperf3")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	secs, churnPeers := 5, 10_000
	if testing.Short() {
		secs, churnPeers = 2, 1_000
	}
	if v := os.Getenv("WGFLEET_PLANE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 60 {
			b.Fatalf("WGFLEET_PLANE_SECONDS=%q: want 1 to 60", v)
		}
		secs = n
	}
	agentBin := buildAgentShared(b)
	wgBin := testenv.GoBuild(b, "golang.zx2c4.com/wireguard", "wireguard-go", "")

	// WGFLEET_PLANE_LEGS=raw,netstack runs only those legs (ratios need
	// both of theirs), to look at one while changing it.
	only := os.Getenv("WGFLEET_PLANE_LEGS")
	want := func(name string) bool {
		return only == "" || slices.Contains(strings.Split(only, ","), name)
	}
	var legs []*planeLeg
	if want("veth") {
		legs = append(legs, vethLeg(b))
	}
	if want("raw") {
		legs = append(legs, rawLeg(b, wgBin, "raw"))
	}
	if want("raw-churn") {
		l := rawLeg(b, wgBin, "raw-churn")
		l.during = startRawChurn(b, ctx, l, churnPeers)
		legs = append(legs, l)
	}
	// WGFLEET_PLANE_BASE_BIN=/path/to/an/older/wg-agent adds a leg
	// "<leg>-base" with that agent after each agent leg: before and after
	// a change, in the same run.
	base := os.Getenv("WGFLEET_PLANE_BASE_BIN")
	for _, name := range []string{"tun", "tun-churn", "tun-10k", "netstack"} {
		if !want(name) || name == "tun-10k" && only == "" {
			continue
		}
		bins := map[string]string{name: agentBin}
		if base != "" {
			bins[name+"-base"] = base
		}
		for _, leg := range slices.Sorted(maps.Keys(bins)) {
			l := agentLeg(b, ctx, leg, bins[leg], wgBin, name == "netstack")
			switch name {
			case "tun-churn":
				l.during = startAgentChurn(b, ctx, l.tp, churnPeers)
			case "tun-10k":
				givePeers(b, ctx, l.tp, churnPeers)
			}
			legs = append(legs, l)
		}
	}
	profDir := os.Getenv("WGFLEET_PLANE_PERF")

	// A round measures one direction through every leg back to back, then
	// the other: the two runs of a ratio are neighbours, seconds apart, and
	// share what the rest of the machine was doing then more closely than
	// runs a whole leg apart. Every second round takes the legs in reverse
	// order (with -benchtime Nx), so that no leg is always measured first.
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		order := legs
		if i%2 == 1 {
			order = slices.Clone(legs)
			slices.Reverse(order)
		}
		for _, down := range []bool{false, true} {
			for _, l := range order {
				l.measure(b, ctx, secs, down, profDir)
			}
		}
	}
	b.StopTimer()

	byName := map[string]*planeLeg{}
	for _, l := range legs {
		byName[l.name] = l
		b.ReportMetric(median(l.up), l.name+"-up-Mbit/s")
		b.ReportMetric(median(l.down), l.name+"-down-Mbit/s")
		if l.node != 0 {
			b.ReportMetric(median(l.nodeCPU), l.name+"-node-CPU%")
			b.ReportMetric(median(l.upCost), l.name+"-up-node-ms/Gbit")
			b.ReportMetric(median(l.downCost), l.name+"-down-node-ms/Gbit")
		}
		if l.client != 0 {
			b.ReportMetric(median(l.clientCPU), l.name+"-client-CPU%")
		}
		if l.during != nil {
			prefix := "churn" // the figure's; a -base or raw leg's are its own
			if l.name != "tun-churn" {
				prefix = l.name
			}
			b.ReportMetric(l.during.churnRate(), prefix+"-changes/s")
			p50, p99 := l.during.latency()
			b.ReportMetric(p50, prefix+"-p50-ms")
			b.ReportMetric(p99, prefix+"-p99-ms")
			b.ReportMetric(median(l.benchCPU), l.name+"-bench-CPU%")
		}
		if l.node != 0 {
			b.ReportMetric(float64(l.udpDrops)/float64(len(l.up)+len(l.down)), l.name+"-udp-drops/run")
		}
	}
	ratio := func(a, base string) {
		if byName[a] == nil || byName[base] == nil {
			return
		}
		b.ReportMetric(median(byName[a].up)/median(byName[base].up), a+"/"+base+"-up")
		b.ReportMetric(median(byName[a].down)/median(byName[base].down), a+"/"+base+"-down")
		if byName[a].node != 0 && byName[base].node != 0 {
			// The node's CPU per bit against the baseline's: above 1, a
			// leg needs more CPU to carry the same (see measure).
			b.ReportMetric(median(byName[a].upCost)/median(byName[base].upCost), a+"/"+base+"-up-CPU/bit")
			b.ReportMetric(median(byName[a].downCost)/median(byName[base].downCost), a+"/"+base+"-down-CPU/bit")
		}
		if b.N > 1 {
			// With several rounds, the median of each round's own ratio:
			// a round's two runs are neighbours, and a round the rest of
			// the machine slowed weighs as one, where the ratio of the
			// medians above compares runs of different rounds.
			b.ReportMetric(median(pairRatios(byName[a].up, byName[base].up)), a+"/"+base+"-up-paired")
			b.ReportMetric(median(pairRatios(byName[a].down, byName[base].down)), a+"/"+base+"-down-paired")
		}
	}
	ratio("tun", "raw")
	ratio("tun-churn", "raw")
	ratio("tun-churn", "raw-churn")
	ratio("raw-churn", "raw")
	ratio("tun-10k", "raw")
	ratio("netstack", "tun")
	ratio("raw", "veth")
	for _, l := range legs {
		if name, ok := strings.CutSuffix(l.name, "-base"); ok {
			ratio(name, l.name)
		}
	}
}

// planeLeg is one node (or none, for veth) between a client namespace and
// a host namespace, and what was measured through it.
type planeLeg struct {
	name     string
	nsA, nsB string
	dst      string    // the iperf3 server, as B reaches it
	tp       *topology // the agent's, or nil
	node     int       // the node's process id, 0 for none
	client   int       // the client's process id, 0 for none
	during   *churner  // runs while this leg is measured, or nil
	uapi     string    // the raw node's UAPI socket, or ""

	up, down           []float64 // Mbit/s, one per run
	nodeCPU, clientCPU []float64 // percent of one CPU, one per run
	benchCPU           []float64 // the benchmark's own process (the churn's client), percent of one CPU
	upCost, downCost   []float64 // the node's CPU milliseconds per Gbit, one per run
	udpDrops           int64     // UDP datagrams dropped for a full socket buffer, both namespaces
}

// vethLeg is iperf3 over the plain veth between two namespaces.
func vethLeg(b *testing.B) *planeLeg {
	l := &planeLeg{name: "veth", nsA: testenv.NetNS(b, "dpa"), nsB: testenv.NetNS(b, "dpb"), dst: topoUnderlayA}
	testenv.Veth(b, l.nsA, topoUnderlayA+"/24", l.nsB, "192.168.80.2/24")
	startIperfServer(b, l.nsA)
	return l
}

// rawLeg is wireguard-go's own program as the node, configured by wg(8).
func rawLeg(b *testing.B, wgBin, legName string) *planeLeg {
	l := &planeLeg{name: legName, nsA: testenv.NetNS(b, "dpa"), nsB: testenv.NetNS(b, "dpb"), dst: topoServiceAddr}
	testenv.Veth(b, l.nsA, topoUnderlayA+"/24", l.nsB, "192.168.80.2/24")
	testenv.Run(b, "ip", "-n", l.nsA, "addr", "add", topoServiceAddr+"/32", "dev", onlyVeth(b, l.nsA))
	startIperfServer(b, l.nsA)

	nodeKey, _ := wgtypes.GeneratePrivateKey()
	clientKey, _ := wgtypes.GeneratePrivateKey()
	name := testenv.UniqueName("wgn")
	var log io.Writer
	if dir := os.Getenv("WGFLEET_PLANE_PERF"); dir != "" {
		// The node's output (GODEBUG=gctrace=1 goes there) beside the
		// profiles, as an agent leg's log.
		var buf testenv.LogBuffer
		log = &buf
		b.Cleanup(func() { _ = os.WriteFile(filepath.Join(dir, legName+"-node.log"), []byte(buf.String()), 0o644) })
	}
	l.node = testenv.StartWireguardGoProgramLog(b, wgBin, l.nsA, name, log)
	l.uapi = filepath.Join("/var/run/wireguard", name+".sock")
	setconf(b, l.nsA, name, "[Interface]\nPrivateKey = "+nodeKey.String()+"\nListenPort = 51820\n\n[Peer]\nPublicKey = "+
		clientKey.PublicKey().String()+"\nAllowedIPs = 10.80.0.2/32\n")
	testenv.Run(b, "ip", "-n", l.nsA, "addr", "add", topoAgentIP+"/24", "dev", name)
	testenv.Run(b, "ip", "-n", l.nsA, "link", "set", name, "up")
	l.client = startClient(b, wgBin, l.nsB, clientKey, nodeKey.PublicKey())
	return l
}

// agentLeg is the agent as the node: as root in TUN mode, or unprivileged
// in netstack mode.
func agentLeg(b *testing.B, ctx context.Context, name, agentBin, wgBin string, unprivileged bool) *planeLeg {
	tp := startTopology(b, ctx, agentBin, unprivileged, nil, "--log-level", "info")
	l := &planeLeg{name: name, nsA: tp.nsA, nsB: tp.nsB, dst: topoServiceAddr, tp: tp, node: tp.cmd.Process.Pid}
	if dir := os.Getenv("WGFLEET_PLANE_PERF"); dir != "" {
		// The agent's log (GODEBUG=gctrace=1 goes there too) beside
		// the profiles, written when the benchmark ends.
		b.Cleanup(func() { _ = os.WriteFile(filepath.Join(dir, name+"-agent.log"), []byte(tp.logs.String()), 0o644) })
	}
	startIperfServer(b, l.nsA)
	nodePub, err := wgtypes.ParseKey(tp.health.Interfaces[0].PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	clientKey, _ := wgtypes.GeneratePrivateKey()
	if _, err := tp.api.AddPeer(ctx, tp.iface, agentapi.AddPeerRequest{
		PublicKey: clientKey.PublicKey().String(), AllowedIPs: []string{"10.80.0.2/32"},
	}); err != nil {
		b.Fatal(err)
	}
	l.client = startClient(b, wgBin, l.nsB, clientKey, nodePub)
	return l
}

// startClient runs the client wireguard-go in ns as 10.80.0.2, with the
// node at topoUnderlayA:51820 and the service network routed into the
// tunnel, and returns its process id.
func startClient(b *testing.B, wgBin, ns string, key wgtypes.Key, node wgtypes.Key) int {
	name := testenv.UniqueName("wgc")
	pid := testenv.StartWireguardGoProgram(b, wgBin, ns, name)
	setconf(b, ns, name, "[Interface]\nPrivateKey = "+key.String()+"\n\n[Peer]\nPublicKey = "+node.String()+
		"\nEndpoint = "+topoUnderlayA+":51820\nAllowedIPs = 10.80.0.0/24, 172.31.9.0/24\nPersistentKeepalive = 5\n")
	testenv.Run(b, "ip", "-n", ns, "addr", "add", "10.80.0.2/24", "dev", name)
	testenv.Run(b, "ip", "-n", ns, "link", "set", name, "up")
	testenv.Run(b, "ip", "-n", ns, "route", "add", "172.31.9.0/24", "dev", name)
	return pid
}

// setconf gives wireguard-go interface name in ns the configuration conf
// (wg(8)'s format) through a file only root may read.
func setconf(b *testing.B, ns, name, conf string) {
	path := filepath.Join(b.TempDir(), name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	testenv.Run(b, "ip", "netns", "exec", ns, "wg", "setconf", name, path)
}

// startIperfServer runs an iperf3 server in ns on every address, port
// 5201, until the benchmark ends.
func startIperfServer(b *testing.B, ns string) {
	cmd := exec.Command("ip", "netns", "exec", ns, "iperf3", "-s", "-p", "5201")
	var out testenv.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting iperf3 server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if b.Failed() {
			b.Logf("iperf3 server in %s:\n%s", ns, out.String())
		}
	})
}

// measure runs iperf3 once through the leg, one way, and records the
// throughput and the CPU of the node and client processes meanwhile. The
// first tries may find the tunnel without a session yet: iperf3 is retried
// for a while.
//
// With profDir set, perf(1) records the node's process meanwhile, into
// <profDir>/<leg>-<up|down>.perf (perf report -i ... reads it).
func (l *planeLeg) measure(b *testing.B, ctx context.Context, secs int, down bool, profDir string) {
	if l.during != nil {
		l.during.run(true)
		defer l.during.run(false)
	}
	dir := "up"
	if down {
		dir = "down"
	}
	if profDir != "" && l.node != 0 {
		hz := cmp.Or(os.Getenv("WGFLEET_PLANE_PERF_HZ"), "499")
		perf := exec.Command("perf", "record", "-q", "-F", hz, "-g", "-p", strconv.Itoa(l.node),
			"-o", filepath.Join(profDir, l.name+"-"+dir+".perf"))
		if err := perf.Start(); err != nil {
			b.Fatalf("perf record: %v", err)
		}
		defer func() {
			_ = perf.Process.Signal(os.Interrupt)
			_ = perf.Wait()
		}()
	}
	args := []string{"netns", "exec", l.nsB, "iperf3", "-c", l.dst, "-p", "5201", "-t", strconv.Itoa(secs), "-O", "1", "-J"}
	if down {
		args = append(args, "-R")
	}
	nodeNow, cliNow, selfNow := cpuOf(b, l.node), cpuOf(b, l.client), cpuOf(b, os.Getpid())
	var (
		out               []byte
		err               error
		elapsed           time.Duration
		nodeUsed, cliUsed time.Duration
		selfUsed          time.Duration
		deadline          = time.Now().Add(30 * time.Second)
	)
	drops0 := udpRcvbufErrors(b, l.nsA) + udpRcvbufErrors(b, l.nsB)
	defer func() { l.udpDrops += udpRcvbufErrors(b, l.nsA) + udpRcvbufErrors(b, l.nsB) - drops0 }()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Duration(secs+30)*time.Second)
		node0, cli0, self0, start := nodeNow(), cliNow(), selfNow(), time.Now()
		out, err = exec.CommandContext(rctx, "ip", args...).Output()
		elapsed = time.Since(start)
		nodeUsed, cliUsed, selfUsed = nodeNow()-node0, cliNow()-cli0, selfNow()-self0
		cancel()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		b.Fatalf("%s: iperf3 %s: %v\n%s", l.name, strings.Join(args[3:], " "), err, out)
	}
	var rep struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &rep); err != nil || rep.End.SumReceived.BitsPerSecond == 0 {
		b.Fatalf("%s: iperf3 report: %v\n%s", l.name, err, out)
	}
	mbit := rep.End.SumReceived.BitsPerSecond / 1e6
	// CPU per bit tells more than throughput on a shared machine, where a
	// process runs only when the scheduler lets it. Both span the whole
	// iperf3 run, the omitted first second too.
	cost := float64(nodeUsed.Milliseconds()) / (mbit / 1e3 * elapsed.Seconds())
	if down {
		l.down = append(l.down, mbit)
		l.downCost = append(l.downCost, cost)
	} else {
		l.up = append(l.up, mbit)
		l.upCost = append(l.upCost, cost)
	}
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / elapsed.Seconds() }
	l.nodeCPU = append(l.nodeCPU, pct(nodeUsed))
	l.clientCPU = append(l.clientCPU, pct(cliUsed))
	l.benchCPU = append(l.benchCPU, pct(selfUsed))
	b.Logf("%s %s: %.0f Mbit/s, node CPU %.0f%% (%.0f ms/Gbit), client CPU %.0f%%", l.name, dir, mbit, pct(nodeUsed), cost, pct(cliUsed))
}

// pairRatios is xs[i]/bases[i] for each round i both measured.
func pairRatios(xs, bases []float64) []float64 {
	r := make([]float64, 0, min(len(xs), len(bases)))
	for i := range min(len(xs), len(bases)) {
		r = append(r, xs[i]/bases[i])
	}
	return r
}

// udpRcvbufErrors is the UDP datagrams namespace ns dropped so far because
// a socket's receive buffer was full (Udp RcvbufErrors in /proc/net/snmp):
// WireGuard packets lost before WireGuard saw them.
func udpRcvbufErrors(b *testing.B, ns string) int64 {
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		b.Fatalf("reading UDP counters in %s: %v", ns, err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, "RcvbufErrors"); i > 0 && i < len(f) {
			n, err := strconv.ParseInt(f[i], 10, 64)
			if err == nil {
				return n
			}
		}
	}
	b.Fatalf("no Udp RcvbufErrors in %s's /proc/net/snmp:\n%s", ns, out)
	return 0
}

// cpuOf returns a function that reads the CPU time (user and system) pid
// has used so far; for pid 0 it always reads 0.
func cpuOf(b *testing.B, pid int) func() time.Duration {
	if pid == 0 {
		return func() time.Duration { return 0 }
	}
	path := fmt.Sprintf("/proc/%d/stat", pid)
	return func() time.Duration {
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatalf("reading CPU time: %v", err)
		}
		// The fields after the command name (which may hold spaces) start
		// with the state; utime and stime are the 14th and 15th fields, in
		// clock ticks of 1/100 s (USER_HZ on Linux).
		i := bytes.LastIndexByte(raw, ')')
		f := strings.Fields(string(raw[i+1:]))
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			b.Fatalf("parsing %s: %q", path, raw)
		}
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
}

// churner changes peers of an agent's interface through its API, 100
// changes a second while it runs: one peer added, then the oldest one
// removed, so the interface keeps its size.
//
// The changes are paced by the clock, not by answers: the k-th is due
// 10 ms after the (k-1)-th, and one due while every worker is busy waits
// for one (up to churnBacklog of them; more are dropped, and churnRate
// tells). Each worker keeps its connection (the client keeps as many idle
// ones as there are workers): the first version kept 4 in flight, so a
// change that took more than 40 ms on the loaded node capped the rate
// below 100 a second, and its HTTP client kept 2 idle connections of the
// 4, so half the changes dialled (and the agent accepted) a new one.
type churner struct {
	running atomic.Bool
	done    atomic.Int64 // changes applied
	active  atomic.Int64 // nanoseconds spent running
	since   time.Time    // when it last started running

	mu    sync.Mutex
	taken []time.Duration // each change's round trip
}

const (
	churnWorkers = 16
	churnBacklog = 16
	churnEvery   = 10 * time.Millisecond
)

// churnPeers makes the peers of a churn, the same for every node: one
// more peer spec each call (a new key, the next address of 10.96.0.0/12).
func churnPeers() (next func() agentapi.PeerSpec) {
	addr := netip.MustParseAddr("10.96.0.1")
	return func() agentapi.PeerSpec {
		k, _ := wgtypes.GeneratePrivateKey()
		addr = addr.Next()
		return agentapi.PeerSpec{PublicKey: k.PublicKey().String(), AllowedIPs: []string{addr.String() + "/32"}}
	}
}

// givePeers gives tp's interface n peers (besides the client) in one
// replace-all call that keeps the client, and returns a function that
// makes one more peer spec (a new key, the next address) and the keys of
// the n peers given, in order.
func givePeers(b *testing.B, ctx context.Context, tp *topology, n int) (next func() agentapi.PeerSpec, keys []string) {
	list, err := tp.api.Peers(ctx, tp.iface)
	if err != nil {
		b.Fatal(err)
	}
	specs := make([]agentapi.PeerSpec, 0, n+len(list.Peers))
	for _, p := range list.Peers {
		specs = append(specs, agentapi.PeerSpec{PublicKey: p.PublicKey, AllowedIPs: p.AllowedIPs})
	}
	next = churnPeers()
	for range n {
		s := next()
		keys = append(keys, s.PublicKey)
		specs = append(specs, s)
	}
	// 10k peers take seconds on a loaded machine: more than tp.api waits.
	slow, err := agentapi.NewClient(agentapi.ClientConfig{
		BaseURL: "http://" + topoUnderlayA + ":8080", Secret: []byte(tp.secret),
		HTTPClient: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DialContext: testenv.DialerInNetNS(tp.nsB)}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := slow.SyncPeers(ctx, tp.iface, agentapi.SyncRequest{Peers: specs}); err != nil {
		b.Fatalf("giving the interface %d peers: %v", n, err)
	}
	return next, keys
}

// churnTarget is how a churner changes one node's peers.
type churnTarget struct {
	add    func(ctx context.Context, s agentapi.PeerSpec) error
	remove func(ctx context.Context, k wgtypes.Key) error
}

// startAgentChurn gives tp's interface n peers (givePeers), then starts
// the changes through its API (startChurn).
func startAgentChurn(b *testing.B, ctx context.Context, tp *topology, n int) *churner {
	next, pool := givePeers(b, ctx, tp, n) // pool: churned peers' keys, oldest first
	api, err := agentapi.NewClient(agentapi.ClientConfig{
		BaseURL: "http://" + topoUnderlayA + ":8080", Secret: []byte(tp.secret),
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DialContext: testenv.DialerInNetNS(tp.nsB), MaxIdleConnsPerHost: churnWorkers,
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return startChurn(b, ctx, next, pool, churnTarget{
		add: func(ctx context.Context, s agentapi.PeerSpec) error {
			_, err := api.AddPeer(ctx, tp.iface, agentapi.AddPeerRequest{PublicKey: s.PublicKey, AllowedIPs: s.AllowedIPs})
			return err
		},
		remove: func(ctx context.Context, k wgtypes.Key) error { return api.DeletePeer(ctx, tp.iface, k) },
	})
}

// startRawChurn gives the raw node of l the same n peers as givePeers
// gives an agent (same addresses), in one UAPI set, then starts the same
// changes, each one UAPI set on the node's socket (startChurn), as wg(8)
// makes them.
func startRawChurn(b *testing.B, ctx context.Context, l *planeLeg, n int) *churner {
	u := &uapiClient{path: l.uapi, idle: make(chan net.Conn, churnWorkers)}
	b.Cleanup(u.close)
	next := churnPeers()
	var pool []string
	var set strings.Builder
	for range n {
		s := next()
		pool = append(pool, s.PublicKey)
		writeUAPIPeer(b, &set, s.PublicKey, "allowed_ip="+s.AllowedIPs[0]+"\n")
	}
	if err := u.set(ctx, set.String()); err != nil {
		b.Fatalf("giving the raw node %d peers: %v", n, err)
	}
	return startChurn(b, ctx, next, pool, churnTarget{
		add: func(ctx context.Context, s agentapi.PeerSpec) error {
			var op strings.Builder
			writeUAPIPeer(b, &op, s.PublicKey, "allowed_ip="+s.AllowedIPs[0]+"\n")
			return u.set(ctx, op.String())
		},
		remove: func(ctx context.Context, k wgtypes.Key) error {
			return u.set(ctx, "public_key="+hex.EncodeToString(k[:])+"\nremove=true\n")
		},
	})
}

// writeUAPIPeer writes the UAPI lines of the peer with the (base64)
// public key pub, then rest.
func writeUAPIPeer(b *testing.B, w *strings.Builder, pub, rest string) {
	k, err := wgtypes.ParseKey(pub)
	if err != nil {
		b.Fatal(err)
	}
	w.WriteString("public_key=" + hex.EncodeToString(k[:]) + "\n" + rest)
}

// uapiClient makes UAPI set operations on a wireguard-go program's
// socket, on connections it keeps (up to cap(idle) of them).
type uapiClient struct {
	path string
	idle chan net.Conn
}

// set applies lines (the body of a set operation) and returns the
// device's error, if any.
func (u *uapiClient) set(ctx context.Context, lines string) error {
	var c net.Conn
	select {
	case c = <-u.idle:
	default:
		var d net.Dialer
		var err error
		if c, err = d.DialContext(ctx, "unix", u.path); err != nil {
			return fmt.Errorf("dialing %s: %w", u.path, err)
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	}
	errno, err := uapiSet(c, lines)
	if err != nil {
		c.Close()
		return err
	}
	select {
	case u.idle <- c:
	default:
		c.Close()
	}
	if errno != "0" {
		return fmt.Errorf("uapi set: errno=%s", errno)
	}
	return nil
}

// uapiSet writes one set operation on c and reads the device's errno.
func uapiSet(c net.Conn, lines string) (errno string, err error) {
	if _, err := io.WriteString(c, "set=1\n"+lines+"\n"); err != nil {
		return "", fmt.Errorf("uapi set: %w", err)
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("uapi set: reading the answer: %w", err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if errno == "" {
				return "", errors.New("uapi set: answer without errno")
			}
			return errno, nil
		}
		if v, ok := strings.CutPrefix(line, "errno="); ok {
			errno = v
		}
	}
}

func (u *uapiClient) close() {
	for {
		select {
		case c := <-u.idle:
			c.Close()
		default:
			return
		}
	}
}

// startChurn starts changing a node's peers through t, which holds the
// peers of pool (their keys, oldest first) and whose next peers next
// makes. The changes run only while run(true) holds, until the benchmark
// ends.
func startChurn(b *testing.B, ctx context.Context, next func() agentapi.PeerSpec, pool []string, t churnTarget) *churner {
	c := &churner{}
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	b.Cleanup(func() { stop(); wg.Wait() })
	ops := make(chan func(context.Context) error, churnBacklog)
	for range churnWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for op := range ops {
				start := time.Now()
				if err := op(cctx); err != nil {
					if cctx.Err() == nil {
						b.Errorf("peer change: %v", err)
					}
					continue
				}
				c.mu.Lock()
				c.taken = append(c.taken, time.Since(start))
				c.mu.Unlock()
				c.done.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ops)
		add := true
		var mu sync.Mutex // guards pool: ops run concurrently
		var due time.Time
		for {
			if !c.running.Load() {
				due = time.Time{}
				select {
				case <-cctx.Done():
					return
				case <-time.After(churnEvery):
				}
				continue
			}
			if due.IsZero() {
				due = time.Now()
			}
			select {
			case <-cctx.Done():
				return
			case <-time.After(time.Until(due)):
			}
			due = due.Add(churnEvery)
			var op func(context.Context) error
			if add {
				s := next()
				op = func(ctx context.Context) error {
					if err := t.add(ctx, s); err != nil {
						return err
					}
					mu.Lock()
					pool = append(pool, s.PublicKey)
					mu.Unlock()
					return nil
				}
			} else {
				mu.Lock()
				oldest := pool[0]
				pool = pool[1:]
				mu.Unlock()
				k, err := wgtypes.ParseKey(oldest)
				if err != nil {
					b.Error(err)
					return
				}
				op = func(ctx context.Context) error { return t.remove(ctx, k) }
			}
			add = !add
			select {
			case ops <- op: // dropped when the agent falls behind: churnRate tells
			default:
			}
		}
	}()
	return c
}

// run starts (true) or pauses (false) the changes.
func (c *churner) run(on bool) {
	if on {
		c.since = time.Now()
	} else {
		c.active.Add(int64(time.Since(c.since)))
	}
	c.running.Store(on)
}

// churnRate is the changes applied per second of running.
func (c *churner) churnRate() float64 {
	return float64(c.done.Load()) / time.Duration(c.active.Load()).Seconds()
}

// latency is the median and the 99th percentile of the changes' round
// trips, in milliseconds.
func (c *churner) latency() (p50, p99 float64) {
	c.mu.Lock()
	d := slices.Clone(c.taken)
	c.mu.Unlock()
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	return ms(d[len(d)/2]), ms(d[len(d)*99/100])
}

// median of xs, left in its order (a leg's runs stay in round order for
// pairRatios); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}
