package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// The routed topology of the forwarding tests and benchmark:
//
//	namespace A: the agent, its API on every address (:8080), WireGuard
//	             on 51820; services on 172.31.9.1, a second address of
//	             A's veth to B that nothing outside A routes to
//	namespace B: a client peer (Debian's wireguard-go), 10.80.0.2, whose
//	             only way to 172.31.9.0/24 is the tunnel
//	underlay:    veth A 192.168.80.1/24 -- B 192.168.80.2/24
const (
	topoServiceAddr = "172.31.9.1"
	topoAgentIP     = "10.80.0.1"
	topoUnderlayA   = "192.168.80.1"
	unprivilegedID  = "65534"
)

// topology is a running agent in namespace A and the namespaces around it.
type topology struct {
	nsA, nsB string
	bin      string
	iface    string
	api      *agentapi.Client
	secret   string // the agent's API secret
	health   agentapi.Health
	logs     *testenv.LogBuffer
	cmd      *exec.Cmd
	exited   chan error
}

// buildAgentShared compiles the agent into a directory every user may read,
// so that it can run unprivileged.
func buildAgentShared(tb testing.TB) string {
	tb.Helper()
	dir := sharedTempDir(tb, "wgfwd-bin-")
	bin := filepath.Join(dir, "wg-agent")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		tb.Fatal(err)
	}
	return bin
}

// sharedTempDir is a temporary directory others may enter (t.TempDir's
// parents are private to root), removed when the test ends.
func sharedTempDir(tb testing.TB, prefix string) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// requireTopology skips (or, in CI, fails) without what the topology needs.
func requireTopology(tb testing.TB) {
	tb.Helper()
	testenv.RequireRoot(tb)
	testenv.RequireTUN(tb) // for the wireguard-go peers
	testenv.RequireCommand(tb, "wg", "wireguard-tools")
	testenv.RequireCommand(tb, "wireguard-go", "wireguard-go")
	testenv.RequireCommand(tb, "setpriv", "util-linux")
	testenv.RequireCommand(tb, "ping", "iputils-ping")
}

// startTopology makes namespaces A and B and starts the agent in A.
// unprivileged runs it as nobody without capabilities and with
// /dev/net/tun hidden, in mode auto; otherwise it runs as root in TUN
// mode. setup, when not nil, runs once the namespaces exist and before the
// agent starts; extra are more agent flags.
func startTopology(tb testing.TB, ctx context.Context, bin string, unprivileged bool, setup func(nsA string), extra ...string) *topology {
	tb.Helper()
	tp := &topology{
		nsA: testenv.NetNS(tb, "fwa"), nsB: testenv.NetNS(tb, "fwb"),
		bin: bin, iface: testenv.UniqueName("wgf"), logs: &testenv.LogBuffer{}, exited: make(chan error, 1),
	}
	testenv.Veth(tb, tp.nsA, topoUnderlayA+"/24", tp.nsB, "192.168.80.2/24")
	testenv.Run(tb, "ip", "-n", tp.nsA, "addr", "add", topoServiceAddr+"/32", "dev", onlyVeth(tb, tp.nsA))
	if setup != nil {
		setup(tp.nsA)
	}

	stateDir := sharedTempDir(tb, "wgfwd-state-")
	args := []string{"--iface", tp.iface, "--address", topoAgentIP + "/24", "--listen-port", "51820",
		"--listen", ":8080", "--state-dir", stateDir, "--log-level", "debug"}
	args = append(args, extra...)
	var cmd *exec.Cmd
	if unprivileged {
		testenv.Run(tb, "chown", unprivilegedID+":"+unprivilegedID, stateDir)
		if err := os.Chmod(stateDir, 0o700); err != nil {
			tb.Fatal(err)
		}
		// ip netns exec gives the command a mount namespace of its own:
		// an empty /dev/net there hides the TUN device from the agent only.
		hide := `if [ -d /dev/net ]; then mount -t tmpfs -o size=64k tmpfs /dev/net || exit 1; fi; exec "$@"`
		cmd = exec.Command("ip", append([]string{"netns", "exec", tp.nsA, "sh", "-c", hide, "sh",
			"setpriv", "--reuid=" + unprivilegedID, "--regid=" + unprivilegedID, "--clear-groups",
			"--inh-caps=-all", "--bounding-set=-all", bin, "--mode", "auto"}, args...)...)
	} else {
		cmd = exec.Command("ip", append([]string{"netns", "exec", tp.nsA, bin, "--mode", "tun",
			"--uapi-dir", sharedTempDir(tb, "wgfwd-uapi-")}, args...)...)
	}
	secret := agenttest.RandomSecret()
	cmd.Env = append(os.Environ(), "WG_AGENT_SECRET="+secret)
	cmd.Stdout, cmd.Stderr = tp.logs, tp.logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tp.cmd = cmd
	go func() { tp.exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-tp.exited
		if tb.Failed() {
			tb.Logf("agent log:\n%s", tp.logs.String())
		}
	})

	api, err := agentapi.NewClient(agentapi.ClientConfig{
		BaseURL: "http://" + topoUnderlayA + ":8080", Secret: []byte(secret),
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: testenv.DialerInNetNS(tp.nsB)}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tp.api, tp.secret = api, secret
	for {
		if tp.health, err = api.Health(ctx); err == nil {
			break
		}
		select {
		case err := <-tp.exited:
			tp.exited <- err
			tb.Fatalf("agent exited: %v\n%s", err, tp.logs.String())
		case <-ctx.Done():
			tb.Fatalf("agent API never came up: %v\n%s", err, tp.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return tp
}

// addWireguardGo starts Debian's wireguard-go in namespace ns as a peer of
// the agent with address addr (/24 of the tunnel subnet), reaching the
// agent at endpoint, with allowed IPs routed into the tunnel, and adds it
// to the agent through the API.
func (tp *topology) addWireguardGo(tb testing.TB, ctx context.Context, ns, addr, endpoint string, allowed ...string) {
	tb.Helper()
	name := testenv.UniqueName("wgc")
	key, _ := wgtypes.GeneratePrivateKey()
	testenv.StartWireguardGo(tb, ns, name)
	conf := filepath.Join(tb.TempDir(), "peer.conf")
	allowedIPs := "10.80.0.0/24"
	for _, a := range allowed {
		allowedIPs += ", " + a
	}
	if err := os.WriteFile(conf, []byte("[Interface]\nPrivateKey = "+key.String()+"\n\n[Peer]\nPublicKey = "+tp.health.Interfaces[0].PublicKey+
		"\nEndpoint = "+endpoint+"\nAllowedIPs = "+allowedIPs+"\nPersistentKeepalive = 5\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	testenv.Run(tb, "ip", "netns", "exec", ns, "wg", "setconf", name, conf)
	testenv.Run(tb, "ip", "-n", ns, "addr", "add", addr+"/24", "dev", name)
	testenv.Run(tb, "ip", "-n", ns, "link", "set", name, "up")
	for _, a := range allowed {
		testenv.Run(tb, "ip", "-n", ns, "route", "add", a, "dev", name)
	}
	if _, err := tp.api.AddPeer(ctx, tp.iface, agentapi.AddPeerRequest{
		PublicKey: key.PublicKey().String(), AllowedIPs: []string{addr + "/32"},
	}); err != nil {
		tb.Fatal(err)
	}
}

// sendChecked dials dst from namespace ns and sends size pseudo-random
// bytes to a testenv.ServeSHA256 sink there; it returns how long it took
// and fails when the sink's checksum differs.
func sendChecked(tb testing.TB, ctx context.Context, ns, dst string, size int64, seed uint64) time.Duration {
	tb.Helper()
	conn, err := testenv.DialerInNetNS(ns)(ctx, "tcp", dst)
	if err != nil {
		tb.Fatalf("dial %s: %v", dst, err)
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	return testenv.SendChecked(tb, conn, size, seed)
}

func waitUntil(tb testing.TB, ctx context.Context, ok func() bool) {
	tb.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			tb.Fatal("timed out waiting")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// onlyVeth is the name of the one veth interface in namespace ns.
func onlyVeth(tb testing.TB, ns string) string {
	tb.Helper()
	out, err := exec.Command("ip", "-n", ns, "-j", "link", "show", "type", "veth").Output()
	if err != nil {
		tb.Fatalf("listing veths in %s: %v", ns, err)
	}
	var links []struct {
		Name string `json:"ifname"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		tb.Fatalf("veths in %s: %s (%v)", ns, out, err)
	}
	return links[0].Name
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }
