package agent_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// BenchmarkChangeCPU is the CPU one peer change costs the node, at 10k
// peers (issue 14 item 2 under churn: a node that carries traffic pays
// for every change with CPU the tunnel would use):
//
//   - agent: the real wg-agent binary (netstack mode, --log-level info,
//     the default) in a process of its own, holding 10k peers given by
//     replace-all, takes N changes through its API (N = 2,000; 400 with
//     -short): one peer added, then one of the 10k removed, four in
//     flight. Its process CPU over the changes, per change
//     (agent-cpu-ms/change); the bytes it allocated per change
//     (agent-alloc-KiB/change, from its Go runtime's counters: garbage
//     drives the collections of the large heap that 10k wireguard-go
//     peers make), the collections meanwhile (agent-gcs, 0 by
//     construction) and the changes a second it took. Also how many
//     times one of its threads was put on a CPU, per change
//     (agent-dispatches/change, the second field of the kernel's
//     per-thread schedstat): every wakeup of a parked thread (the
//     network poller's, a spinning M's, sysmon's) counts one, and on a
//     virtual machine each costs an exit or two, whatever it then does.
//     And the CPU the kernel's worker threads (kworker) ran meanwhile,
//     per change (kworker-cpu-ms/change for the agent, base-kworker-...):
//     work the kernel does for the process outside it (a disk cache
//     flush; any sync handed to a worker) on the same CPUs, with
//     whatever else the machine had them do.
//   - raw: a bare wireguard-go device (a netstack TUN in a process of its
//     own, the test binary re-executed) holding the same 10k peers, given
//     the same N changes one IpcSet each: its process CPU and allocation
//     per change (raw-cpu-ms/change, raw-alloc-KiB/change, and
//     raw-dispatches/change, in a stream: not paced), what the
//     device itself must do (the new peer's Curve25519 precomputation,
//     its queues, its insertion and the removal), the floor of any agent.
//
// cpu/raw and alloc/raw are our overhead per change. CPU is the kernel's
// per-thread run time (/proc/PID/task/*/schedstat), so a loaded machine
// changes it less than it changes a time. WGFLEET_CHANGECPU_BASE_BIN adds
// an older agent binary measured the same way (base-*, cpu/base);
// WGFLEET_CHANGECPU_PERF=file records a perf(1) profile of each agent
// during its changes (file.PID). WGFLEET_CHANGECPU_RATE=n paces the
// agents' changes at n a second (still up to four in flight), as a churn
// on a node carrying traffic makes them (the data-plane figure's, 100):
// a trickle, where changes seldom arrive together; the bare device's are
// not paced.
//
//	go test -run '^$' -bench ChangeCPU -benchtime 1x ./agent
func BenchmarkChangeCPU(b *testing.B) {
	const held = 10000
	changes := 2000
	if testing.Short() {
		changes = 400
	}
	bin := buildAgentBinary(b)
	base := memPeers(1, held)
	fresh := memPeers(2, held+changes/2)[held:] // addresses after the held peers'
	// WGFLEET_CHANGECPU_BASE_BIN=/path/to/an/older/wg-agent measures that
	// agent too, in the same run (base-*, cpu/base): before and after a
	// change.
	baseBin := os.Getenv("WGFLEET_CHANGECPU_BASE_BIN")
	var every time.Duration // between changes; 0: as fast as they are answered
	if v := os.Getenv("WGFLEET_CHANGECPU_RATE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100_000 {
			b.Fatalf("WGFLEET_CHANGECPU_RATE=%q: want changes a second, 1 to 100000", v)
		}
		every = time.Second / time.Duration(n)
	}

	for b.Loop() {
		agent := measureAgentChanges(b, bin, base, fresh, changes, every)
		var before agentChanges
		if baseBin != "" {
			before = measureAgentChanges(b, baseBin, base, fresh, changes, every)
		}

		bare := startBareDevice(b)
		bare.load(b, 1, held)
		bare.gc(b)
		rawCPU, rawM := bare.changes(b, base, fresh, changes)
		bare.stop()
		rawMS := float64(rawCPU.cpu) / float64(time.Millisecond) / float64(changes)
		rawKiB := rawM.alloc / 1024 / float64(changes)

		report := func(prefix string, m agentChanges) {
			b.ReportMetric(m.cpuMS, prefix+"-cpu-ms/change")
			b.ReportMetric(m.allocKiB, prefix+"-alloc-KiB/change")
			b.ReportMetric(m.gcs, prefix+"-gcs")
			b.ReportMetric(m.rate, prefix+"-changes/s")
			b.ReportMetric(m.dispatches, prefix+"-dispatches/change")
			b.ReportMetric(m.kworkerMS, prefix+"-kworker-cpu-ms/change")
		}
		report("agent", agent)
		b.ReportMetric(agent.cpuMS/rawMS, "cpu/raw")
		b.ReportMetric(agent.allocKiB/rawKiB, "alloc/raw")
		if baseBin != "" {
			report("base", before)
			b.ReportMetric(before.cpuMS/rawMS, "base-cpu/raw")
			b.ReportMetric(agent.cpuMS/before.cpuMS, "cpu/base")
			b.ReportMetric((agent.cpuMS+agent.kworkerMS)/(before.cpuMS+before.kworkerMS), "cpu+kworker/base")
			b.ReportMetric(agent.allocKiB/before.allocKiB, "alloc/base")
		}
		b.ReportMetric(rawMS, "raw-cpu-ms/change")
		b.ReportMetric(rawKiB, "raw-alloc-KiB/change")
		b.ReportMetric(rawM.gcs, "raw-gcs")
		b.ReportMetric(float64(rawCPU.dispatches)/float64(changes), "raw-dispatches/change")
		b.ReportMetric(0, "ns/op")
	}
}

// agentChanges is what measureAgentChanges found.
type agentChanges struct {
	cpuMS, allocKiB float64 // per change
	gcs             float64 // collections during the changes
	rate            float64 // changes a second
	dispatches      float64 // per change: times one of its threads was put on a CPU
	kworkerMS       float64 // per change: the kernel's worker threads' CPU meanwhile
}

// measureAgentChanges runs the agent bin, gives it the held peers base,
// and measures the changes of runChanges (fresh added, base removed).
func measureAgentChanges(b *testing.B, bin string, base, fresh []scalePeer, changes int, every time.Duration) agentChanges {
	held := len(base)
	ag := startAgentProcessLog(b, bin, "info", io.Discard)
	defer ag.stop()
	ctx := context.Background()
	// 3,000 peers more than held, then held: the second replace-all
	// removes enough peers for the agent to run a collection and return
	// their memory (memtrim.go), so that the changes start right after a
	// collection, as the bare device's do (bareDevice.gc), and none falls
	// among them: collections are accounted by what each side allocates
	// (alloc/raw), not by the luck of a window.
	if _, err := ag.client.SyncPeers(ctx, "wg0", syncOf(append(slices.Clone(base), memPeers(4, held+3000)[held:]...))); err != nil {
		b.Fatalf("replace-all of %d peers: %v", held+3000, err)
	}
	if _, err := ag.client.SyncPeers(ctx, "wg0", syncOf(base)); err != nil {
		b.Fatalf("replace-all of %d peers: %v", held, err)
	}
	settledRSS(b, ag.pid) // the replace-all's work done
	// A metrics request allocates by itself (it reads the device's
	// peers): what one costs is taken off the changes' figure.
	m0 := agentRuntime(b, ag)
	m0, scrape := agentRuntime(b, ag), m0
	scrape.alloc = m0.alloc - scrape.alloc
	// The changes' own client keeps a connection per request in flight,
	// as a controller does (the default keeps 2, so half the changes
	// would dial anew and cost the agent an accept each).
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: "http://" + ag.api, Secret: []byte(ag.secret),
		HTTPClient: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: changesInFlight}}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Health(ctx); err != nil {
		b.Fatal(err)
	}
	stopPerf := perfRecord(b, ag.pid)
	kw0, cpu0, start := kworkerCPU(b), processCPU(b, ag.pid), time.Now()
	runChanges(b, c, base, fresh, changes, every)
	cpu1, elapsed := processCPU(b, ag.pid).sub(cpu0), time.Since(start)
	kw1 := kworkerCPU(b)
	stopPerf()
	m1 := agentRuntime(b, ag)
	return agentChanges{
		cpuMS:      float64(cpu1.cpu) / float64(time.Millisecond) / float64(changes),
		allocKiB:   (m1.alloc - m0.alloc - scrape.alloc) / 1024 / float64(changes),
		gcs:        m1.gcs - m0.gcs,
		rate:       float64(changes) / elapsed.Seconds(),
		dispatches: float64(cpu1.dispatches) / float64(changes),
		kworkerMS:  float64(kw1-kw0) / float64(time.Millisecond) / float64(changes),
	}
}

// changesInFlight is how many changes runChanges keeps in flight.
const changesInFlight = 4

// runChanges makes n changes through c, changesInFlight at a time: the
// i-th added peer is fresh[i/2], and every other change removes
// base[i/2]. With every above 0, the i-th change is not made before i
// times every from the first (paced by the clock).
func runChanges(b *testing.B, c *agentapi.Client, base, fresh []scalePeer, n int, every time.Duration) {
	ctx := context.Background()
	work := make(chan int)
	errs := make(chan error, changesInFlight)
	var wg sync.WaitGroup
	for range changesInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var err error
				if i%2 == 0 {
					p := fresh[i/2]
					_, err = c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: p.key.String(), AllowedIPs: []string{p.ip.String()}})
				} else {
					err = c.DeletePeer(ctx, "wg0", base[i/2].key)
				}
				if err != nil {
					errs <- fmt.Errorf("change %d: %w", i, err)
					return
				}
			}
		}()
	}
	start := time.Now()
	for i := range n {
		if every > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		}
		select {
		case work <- i:
		case err := <-errs:
			close(work)
			wg.Wait()
			b.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// threadTimes is what the kernel's scheduler counted for a process's
// threads: their run time, and how many times one of them was put on a
// CPU (dispatches: each wakeup of a sleeping thread is one, and so is
// each return after being preempted).
type threadTimes struct {
	cpu        time.Duration
	dispatches int64
}

// sub is t less an earlier reading.
func (t threadTimes) sub(earlier threadTimes) threadTimes {
	return threadTimes{cpu: t.cpu - earlier.cpu, dispatches: t.dispatches - earlier.dispatches}
}

// processCPU is what pid's threads have run so far, from the scheduler's
// per-thread run time in nanoseconds and its count of the thread's
// dispatches (the first and third fields of
// /proc/PID/task/TID/schedstat). A thread that exited meanwhile is not
// counted: the Go runtime keeps its threads.
func processCPU(b *testing.B, pid int) threadTimes {
	b.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		b.Fatalf("no threads of %d in /proc: %v", pid, err)
	}
	var sum threadTimes
	for _, t := range tasks {
		raw, err := os.ReadFile(t)
		if err != nil {
			continue // exited
		}
		f := strings.Fields(string(raw))
		if len(f) < 3 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			b.Fatalf("parsing %s: %q", t, raw)
		}
		runs, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			b.Fatalf("parsing %s: %q", t, raw)
		}
		sum.cpu += time.Duration(ns)
		sum.dispatches += runs
	}
	return sum
}

// kworkerCPU is the run time of the kernel's worker threads (kworker/*)
// so far: the first field of their schedstat. Threads that come or go in
// between count what they ran while they were there only at one end.
func kworkerCPU(b *testing.B) time.Duration {
	b.Helper()
	comms, err := filepath.Glob("/proc/[0-9]*/comm")
	if err != nil {
		b.Fatal(err)
	}
	var sum time.Duration
	for _, c := range comms {
		name, err := os.ReadFile(c)
		if err != nil || !strings.HasPrefix(string(name), "kworker/") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(filepath.Dir(c), "schedstat"))
		if err != nil {
			continue // exited
		}
		f := strings.Fields(string(raw))
		if len(f) == 0 {
			continue
		}
		if ns, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			sum += time.Duration(ns)
		}
	}
	return sum
}

type runtimeCounts struct{ alloc, gcs float64 }

// agentRuntime reads the agent's cumulative allocated bytes and completed
// collections from its metrics (GET /v1/metrics, signed).
func agentRuntime(b *testing.B, ag agentProcess) runtimeCounts {
	b.Helper()
	const path = "/v1/metrics"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequest(http.MethodGet, "http://"+ag.api+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set(agentapi.HeaderTimestamp, ts)
	req.Header.Set(agentapi.HeaderSignature, agentapi.Sign([]byte(ag.secret), http.MethodGet, path, nil, ts, ""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s", path, resp.Status)
	}
	var out runtimeCounts
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "go_memstats_alloc_bytes_total":
			dst = &out.alloc
		case "go_gc_duration_seconds_count":
			dst = &out.gcs
		default:
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			b.Fatalf("metric %s: %q", name, val)
		}
		*dst = v
		found++
	}
	if found != 2 {
		b.Fatalf("GET %s: the Go runtime's allocation and collection counters are missing", path)
	}
	return out
}

// changes makes, on the bare device, the n changes runChanges makes (an
// IpcSet each) and returns the CPU its process used for them (and its
// threads' dispatches), and what it allocated and collected meanwhile.
func (d bareDevice) changes(b *testing.B, base, fresh []scalePeer, n int) (threadTimes, runtimeCounts) {
	b.Helper()
	m0 := d.runtime(b)
	var in strings.Builder
	for i := range n {
		if i%2 == 0 {
			p := fresh[i/2]
			fmt.Fprintf(&in, "add %s %s\n", hex.EncodeToString(p.key[:]), p.ip)
		} else {
			fmt.Fprintf(&in, "del %s\n", hex.EncodeToString(base[i/2].key[:]))
		}
	}
	cpu0 := processCPU(b, d.cmd.Process.Pid)
	if _, err := io.WriteString(d.stdin, in.String()); err != nil {
		d.stop()
		b.Fatal(err)
	}
	m1 := d.runtime(b)
	return processCPU(b, d.cmd.Process.Pid).sub(cpu0), runtimeCounts{alloc: m1.alloc - m0.alloc, gcs: m1.gcs - m0.gcs}
}

// gc runs a collection in the bare device's process.
func (d bareDevice) gc(b *testing.B) {
	b.Helper()
	if _, err := io.WriteString(d.stdin, "gc\n"); err != nil {
		d.stop()
		b.Fatal(err)
	}
	d.runtime(b)
}

// runtime waits for the bare device to have made every change sent so far
// and returns its allocation and collection counters.
func (d bareDevice) runtime(b *testing.B) runtimeCounts {
	b.Helper()
	if _, err := io.WriteString(d.stdin, "done\n"); err != nil {
		d.stop()
		b.Fatal(err)
	}
	var m runtimeCounts
	if !d.lines.Scan() {
		d.stop()
		b.Fatal("bare device exited")
	}
	if _, err := fmt.Sscanf(d.lines.Text(), "BARE-CHANGED %g %g", &m.alloc, &m.gcs); err != nil {
		d.stop()
		b.Fatalf("bare device: %q instead of BARE-CHANGED: %v", d.lines.Text(), err)
	}
	return m
}

// perfRecord records a perf(1) profile of pid (call graphs, 999 Hz) into
// the file WGFLEET_CHANGECPU_PERF names (with the pid appended), until
// the returned stop; without it, it does nothing. perf report -i FILE
// reads it.
func perfRecord(b *testing.B, pid int) (stop func()) {
	out := os.Getenv("WGFLEET_CHANGECPU_PERF")
	if out == "" {
		return func() {}
	}
	out += "." + strconv.Itoa(pid)
	perf := exec.Command("perf", "record", "-q", "-F", "999", "-g", "-p", strconv.Itoa(pid), "-o", out)
	if err := perf.Start(); err != nil {
		b.Fatalf("perf record: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // perf attaches
	return func() {
		_ = perf.Process.Signal(os.Interrupt)
		_ = perf.Wait()
	}
}
