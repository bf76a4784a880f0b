package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// buildAgent compiles this command once per test.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wg-agent")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestTUNAgentInteropWithWireguardGo runs the wg-agent binary in TUN mode in
// namespace A and an independent peer (Debian's wireguard-go, configured
// with `wg setconf`) in namespace B; ping and a TCP transfer cross the
// tunnel, `wg show` reads the agent's interface, and SIGTERM shuts it down.
func TestTUNAgentInteropWithWireguardGo(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTUN(t)
	wg := testenv.RequireCommand(t, "wg", "wireguard-tools")
	testenv.RequireCommand(t, "wireguard-go", "wireguard-go")
	testenv.RequireCommand(t, "ping", "iputils-ping")
	nsA, nsB := testenv.NetNS(t, "wga"), testenv.NetNS(t, "wgb")
	testenv.Veth(t, nsA, "192.168.77.1/24", nsB, "192.168.77.2/24")
	ifA, ifB := testenv.UniqueName("wga"), testenv.UniqueName("wgb")
	bin := buildAgent(t)
	stateDir := t.TempDir()
	secret := agenttest.RandomSecret()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Agent in A, TUN mode (it must not fall back to netstack).
	logs := &testenv.LogBuffer{}
	agentCmd := exec.Command("ip", "netns", "exec", nsA, bin,
		"--mode", "tun", "--iface", ifA, "--address", "10.77.0.1/24", "--listen-port", "51820",
		"--listen", "192.168.77.1:8080", "--state-dir", stateDir, "--log-level", "debug")
	agentCmd.Env = append(os.Environ(), "WG_AGENT_SECRET="+secret)
	agentCmd.Stdout, agentCmd.Stderr = logs, logs
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agentCmd.Wait() }()
	defer func() {
		_ = agentCmd.Process.Kill()
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.String())
		}
	}()

	client, err := agentapi.NewClient(agentapi.ClientConfig{
		BaseURL: "http://192.168.77.1:8080", Secret: []byte(secret),
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: testenv.DialerInNetNS(nsB)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var health agentapi.Health
	for {
		if health, err = client.Health(ctx); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("agent exited: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("agent API never came up: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(health.Interfaces) != 1 || health.Interfaces[0].Mode != "tun" {
		t.Fatalf("agent is not in TUN mode: %+v", health.Interfaces)
	}
	agentPub := health.Interfaces[0].PublicKey

	// Independent peer in B: Debian's wireguard-go, configured by wg setconf.
	keyB, _ := wgtypes.GeneratePrivateKey()
	testenv.StartWireguardGo(t, nsB, ifB)
	conf := filepath.Join(t.TempDir(), "b.conf")
	if err := os.WriteFile(conf, []byte("[Interface]\nPrivateKey = "+keyB.String()+"\nListenPort = 51821\n\n[Peer]\nPublicKey = "+agentPub+
		"\nEndpoint = 192.168.77.1:51820\nAllowedIPs = 10.77.0.0/24\nPersistentKeepalive = 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "ip", "netns", "exec", nsB, wg, "setconf", ifB, conf)
	testenv.Run(t, "ip", "-n", nsB, "addr", "add", "10.77.0.2/24", "dev", ifB)
	testenv.Run(t, "ip", "-n", nsB, "link", "set", ifB, "up")

	// The controller's side: add B through the signed API.
	if _, err := client.AddPeer(ctx, ifA, agentapi.AddPeerRequest{PublicKey: keyB.PublicKey().String(), AllowedIPs: []string{"10.77.0.2/32"}}); err != nil {
		t.Fatal(err)
	}

	// Ping across the tunnel.
	waitFor(t, ctx, func() bool {
		return exec.Command("ip", "netns", "exec", nsB, "ping", "-c", "1", "-W", "1", "10.77.0.1").Run() == nil
	})
	testenv.Run(t, "ip", "netns", "exec", nsB, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.1")

	// TCP transfer, B -> A, 8 MiB with a checksum.
	ln, err := testenv.ListenInNetNS(nsA, "tcp", "10.77.0.1:9000")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go testenv.ServeSHA256(ln)
	const payload = 8 << 20
	sendChecked(t, ctx, nsB, "10.77.0.1:9000", payload, 1)

	// wg show reads the agent's interface through its UAPI socket.
	show := testenv.Run(t, "ip", "netns", "exec", nsA, wg, "show", ifA, "dump")
	if !strings.Contains(show, keyB.PublicKey().String()) || !strings.Contains(show, "192.168.77.2:51821") || !strings.Contains(show, "10.77.0.2/32") {
		t.Fatalf("wg show does not list peer B:\n%s", show)
	}
	if strings.Contains(show, keyB.String()) {
		t.Fatal("wg show leaked B's private key?")
	}
	d, err := client.Dump(ctx, ifA)
	if err != nil || len(d.Peers) != 1 || d.Peers[0].LatestHandshake == nil || d.Peers[0].TransferRx < payload {
		t.Fatalf("dump after traffic: %+v %v", d, err)
	}

	// SIGTERM: clean exit, interface gone, state kept.
	if err := agentCmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("agent exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop after SIGTERM")
	}
	if strings.Contains(logs.String(), "stopped unexpectedly") {
		t.Errorf("a clean shutdown was logged as an unexpected stop:\n%s", logs.String())
	}
	if exec.Command("ip", "-n", nsA, "link", "show", ifA).Run() == nil {
		t.Error("TUN interface still exists after shutdown")
	}
	if _, err := os.Stat("/var/run/wireguard/" + ifA + ".sock"); err == nil {
		t.Error("UAPI socket left behind")
	}
	// The peer state is binary (a snapshot and a journal of batches):
	// the public key is in it as its 32 bytes.
	var state []byte
	for _, suffix := range []string{".peers.snap", ".peers.journal"} {
		data, err := os.ReadFile(filepath.Join(stateDir, ifA+suffix))
		if err != nil {
			t.Fatalf("peer state not saved: %v", err)
		}
		state = append(state, data...)
	}
	if pub := keyB.PublicKey(); !bytes.Contains(state, pub[:]) {
		t.Fatalf("peer state does not hold peer %s", pub)
	}
}

func waitFor(t *testing.T, ctx context.Context, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatal("timed out waiting")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestTUNDeletedUnderneathStopsAgent: when the agent's TUN device is
// deleted from outside, the agent exits with an error (for its supervisor
// to restart it) instead of serving an API for a dead interface; a clean
// SIGTERM never says so.
func TestTUNDeletedUnderneathStopsAgent(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTUN(t)
	ns := testenv.NetNS(t, "wgd")
	iface := testenv.UniqueName("wgd")
	bin := buildAgent(t)
	logs := &testenv.LogBuffer{}
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "--mode", "tun", "--iface", iface,
		"--address", "10.78.0.1/24", "--listen", "127.0.0.1:8080", "--state-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "WG_AGENT_SECRET="+agenttest.RandomSecret())
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitFor(t, ctx, func() bool { return strings.Contains(logs.String(), "agent API listening") })
	testenv.Run(t, "ip", "-n", ns, "link", "del", iface)
	select {
	case err := <-exited:
		if err == nil {
			t.Fatalf("agent exited 0 after losing its interface:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), "stopped unexpectedly") {
			t.Fatalf("the log does not say why:\n%s", logs.String())
		}
	case <-ctx.Done():
		t.Fatalf("agent kept running without its interface:\n%s", logs.String())
	}
}
