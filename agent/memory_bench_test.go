package agent_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// BenchmarkAgentMemory is issue 14's memory rows, each measured on a
// process of its own (resident memory, VmRSS of /proc/PID/status, read
// after the process has settled):
//
//   - idle-RSS-MiB: the real wg-agent binary (built here), netstack mode,
//     one interface, no peers (target < 20 MB);
//   - holding N peers (60k; 10k with -short): the same agent given N
//     peers in one replace-all, against a bare wireguard-go device (a
//     netstack TUN in a process of its own) given the same N peers in one
//     IpcSet: hold/bare is the ratio of the totals, hold-inc/bare-inc the
//     ratio of what each grew by from its own idle size (target ≤ 1.2);
//   - every agent figure is taken after a dump of the peers it was given,
//     as a controller's poll makes one: the agent keeps its last dump's
//     encoding to reuse (about 650 bytes a peer), and a polled agent
//     holds it;
//   - churn: a fresh agent given 10k peers, then ten replace-alls each
//     with 10k different peers: churn/first is the resident size after
//     the tenth against after the first (target ≤ 1.5), churn-trend the
//     mean of the last three swaps against the mean of swaps 2-4 (≈ 1
//     when there is no upward trend).
//
// The baseline, the bare device, does only what the device must: one
// IpcSet of public_key and allowed_ip lines, nothing else in its process.
// Loopback only; run with
//
//	go test -run '^$' -bench AgentMemory -benchtime 1x ./agent
func BenchmarkAgentMemory(b *testing.B) {
	hold := 60000
	if testing.Short() {
		hold = 10000
	}
	const churnSet, swaps = 10000, 10
	bin := buildAgentBinary(b)
	for b.Loop() {
		// Idle, then holding: one agent.
		ag := startAgentProcess(b, bin)
		idle := settledRSS(b, ag.pid)
		if _, err := ag.client.SyncPeers(context.Background(), "wg0", syncOf(memPeers(1, hold))); err != nil {
			b.Fatalf("replace-all of %d peers: %v", hold, err)
		}
		polled(b, ag, hold)
		holding := settledRSS(b, ag.pid)
		ag.stop()

		bare := startBareDevice(b)
		bareIdle, bareHolding := bare.idle, bare.load(b, 1, hold)
		bare.stop()

		bare = startBareDevice(b)
		var bareRSS []int64
		for i := range swaps + 1 {
			bareRSS = append(bareRSS, bare.load(b, uint64(100+i), churnSet))
		}
		bare.stop()

		// Churn: a fresh agent.
		ag = startAgentProcess(b, bin)
		var rss []int64
		for i := range swaps + 1 {
			if _, err := ag.client.SyncPeers(context.Background(), "wg0", syncOf(memPeers(uint64(100+i), churnSet))); err != nil {
				b.Fatalf("swap %d: %v", i, err)
			}
			polled(b, ag, churnSet)
			rss = append(rss, settledRSS(b, ag.pid))
		}
		ag.stop()

		b.ReportMetric(mib(idle), "idle-RSS-MiB")
		b.ReportMetric(mib(holding), "hold-RSS-MiB")
		b.ReportMetric(mib(bareIdle), "bare-idle-MiB")
		b.ReportMetric(mib(bareHolding), "bare-hold-MiB")
		b.ReportMetric(float64(holding)/float64(bareHolding), "hold/bare")
		b.ReportMetric(float64(holding-idle)/float64(bareHolding-bareIdle), "hold-inc/bare-inc")
		b.ReportMetric(float64(hold), "peers")
		first, last := rss[0], rss[len(rss)-1]
		b.ReportMetric(mib(first), "churn-first-MiB")
		b.ReportMetric(mib(last), "churn-last-MiB")
		b.ReportMetric(mib(slices.Max(rss)), "churn-max-MiB")
		b.ReportMetric(float64(last)/float64(first), "churn/first")
		b.ReportMetric(mean(rss[len(rss)-3:])/mean(rss[2:5]), "churn-trend")
		b.ReportMetric(mib(bareRSS[len(bareRSS)-1]), "bare-churn-last-MiB")
		b.ReportMetric(float64(bareRSS[len(bareRSS)-1])/float64(bareRSS[0]), "bare-churn/first")
		b.ReportMetric(0, "ns/op")
	}
}

func mib(kb int64) float64 { return float64(kb) / 1024 }

func mean(v []int64) float64 {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	return s / float64(len(v))
}

// memPeers is a deterministic set of n peers (keys from seed, addresses
// 172.16.0.0/12 + i), so two processes can hold the same set.
func memPeers(seed uint64, n int) []scalePeer {
	r := rand.New(rand.NewChaCha8([32]byte{0: byte(seed), 1: byte(seed >> 8)}))
	out := make([]scalePeer, n)
	for i := range out {
		for j := 0; j < 32; j += 8 {
			binary.LittleEndian.PutUint64(out[i].key[j:], r.Uint64())
		}
		v := 0xac100000 + uint32(i)
		out[i].ip = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 32)
	}
	return out
}

func syncOf(peers []scalePeer) agentapi.SyncRequest {
	req := agentapi.SyncRequest{Peers: make([]agentapi.PeerSpec, 0, len(peers))}
	for _, p := range peers {
		req.Peers = append(req.Peers, agentapi.PeerSpec{PublicKey: p.key.String(), AllowedIPs: []string{p.ip.String()}})
	}
	return req
}

// settledRSS waits for the process's resident size to settle (the Go
// runtime collects and returns freed memory in the background, slowly on
// a loaded machine): three readings half a second apart within 1% of each
// other, at most 30 s. It returns the last reading in KiB.
func settledRSS(b *testing.B, pid int) int64 {
	b.Helper()
	readings := []int64{vmKB(b, pid, "VmRSS")}
	for range 60 {
		time.Sleep(500 * time.Millisecond)
		readings = append(readings, vmKB(b, pid, "VmRSS"))
		if len(readings) < 3 {
			continue
		}
		if last := readings[len(readings)-3:]; slices.Max(last)-slices.Min(last) <= slices.Max(last)/100 {
			break
		}
	}
	return readings[len(readings)-1]
}

func buildAgentBinary(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "wg-agent")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/wgfleet/wgfleet/cmd/wg-agent").CombinedOutput()
	if err != nil {
		b.Fatalf("building wg-agent: %v\n%s", err, out)
	}
	return bin
}

type agentProcess struct {
	cmd    *exec.Cmd
	pid    int
	client *agentapi.Client
	api    string // the API's address
	secret string
}

func (p agentProcess) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// startAgentProcess runs the real wg-agent binary in netstack mode on
// loopback and waits until it answers.
func startAgentProcess(b *testing.B, bin string) agentProcess {
	return startAgentProcessLog(b, bin, "warn", os.Stderr)
}

// startAgentProcessLog is startAgentProcess with the agent's log level
// and where its output goes.
func startAgentProcessLog(b *testing.B, bin, level string, out io.Writer) agentProcess {
	b.Helper()
	dir := b.TempDir()
	secret := agenttest.RandomSecret()
	api, wgPort := freeTCPAddr(b), freeUDPPort(b)
	cmd := exec.Command(bin, "--mode", "netstack", "--listen", api, "--listen-port", strconv.Itoa(wgPort),
		"--state-dir", dir, "--address", "10.99.0.1/24", "--log-level", level)
	cmd.Env = append(os.Environ(), "WG_AGENT_SECRET="+secret)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := agentProcess{cmd: cmd, pid: cmd.Process.Pid, api: api, secret: secret}
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: "http://" + api, Secret: []byte(secret),
		HTTPClient: &http.Client{Timeout: 10 * time.Minute}})
	if err != nil {
		p.stop()
		b.Fatal(err)
	}
	p.client = c
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Health(ctx)
		cancel()
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			p.stop()
			b.Fatalf("wg-agent did not answer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeTCPAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func freeUDPPort(b *testing.B) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

type bareDevice struct {
	cmd   *exec.Cmd
	stdin io.Writer
	lines *bufio.Scanner
	idle  int64
}

func (d bareDevice) stop() {
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
}

// load replaces the bare device's peers with memPeers(seed, n) in one
// IpcSet and returns its settled resident size.
func (d bareDevice) load(b *testing.B, seed uint64, n int) int64 {
	b.Helper()
	if _, err := fmt.Fprintf(d.stdin, "%d %d\n", seed, n); err != nil {
		d.stop()
		b.Fatal(err)
	}
	if !d.lines.Scan() || d.lines.Text() != "BARE-LOADED" {
		d.stop()
		b.Fatalf("bare device: %q instead of BARE-LOADED", d.lines.Text())
	}
	return settledRSS(b, d.cmd.Process.Pid)
}

// startBareDevice runs TestHelperBareDevice in a process of its own: a
// bare device on a netstack TUN, measured idle.
func startBareDevice(b *testing.B) bareDevice {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBareDevice$")
	cmd.Env = append(os.Environ(), "WGFLEET_BARE_DEVICE=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	d := bareDevice{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
	if !d.lines.Scan() || d.lines.Text() != "BARE-IDLE" {
		d.stop()
		b.Fatal("bare device exited before it was up")
	}
	d.idle = settledRSS(b, cmd.Process.Pid)
	return d
}

// TestHelperBareDevice is not a test: run by startBareDevice, it holds a
// bare wireguard-go device; each line "SEED N" on its input replaces the
// device's peers with memPeers(SEED, N) in one IpcSet; "add KEYHEX CIDR"
// adds one peer and "del KEYHEX" removes one, an IpcSet each, "gc" runs a
// collection, and "done"
// answers once those before it are made, with the bytes the process has
// allocated and the collections it has run so far (bareDevice.changes).
func TestHelperBareDevice(t *testing.T) {
	if os.Getenv("WGFLEET_BARE_DEVICE") == "" {
		t.Skip("helper process only")
	}
	tdev, _, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr("10.98.0.1")}, nil, 1420)
	if err != nil {
		t.Fatal(err)
	}
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelSilent, ""))
	defer dev.Close()
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.IpcSet("private_key=" + hex.EncodeToString(priv[:]) + "\nlisten_port=0\n"); err != nil {
		t.Fatal(err)
	}
	if err := dev.Up(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("BARE-IDLE")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() { // until killed or its input closes
		switch f := strings.Fields(in.Text()); f[0] {
		case "add":
			if err := dev.IpcSet("public_key=" + f[1] + "\nallowed_ip=" + f[2] + "\n"); err != nil {
				t.Fatal(err)
			}
			continue
		case "del":
			if err := dev.IpcSet("public_key=" + f[1] + "\nremove=true\n"); err != nil {
				t.Fatal(err)
			}
			continue
		case "gc":
			runtime.GC()
			continue
		case "done":
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Println("BARE-CHANGED", ms.TotalAlloc, ms.NumGC)
			continue
		}
		var seed uint64
		var n int
		if _, err := fmt.Sscan(in.Text(), &seed, &n); err != nil {
			t.Fatal(err)
		}
		if err := dev.IpcSet("replace_peers=true\n" + rawSetText(memPeers(seed, n))); err != nil {
			t.Fatal(err)
		}
		fmt.Println("BARE-LOADED")
	}
}

// polled dumps the agent's interface once, as a controller's poll does,
// and checks that the dump holds the want peers it was given.
func polled(b *testing.B, ag agentProcess, want int) {
	b.Helper()
	d, err := ag.client.Dump(context.Background(), "wg0")
	if err != nil {
		b.Fatalf("dump: %v", err)
	}
	if len(d.Peers) != want {
		b.Fatalf("dump: %d peers, want %d", len(d.Peers), want)
	}
}
