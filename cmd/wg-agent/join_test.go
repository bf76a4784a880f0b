package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// freePort is a port nothing listens on right now, for tcp or udp.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestJoinWithNothingButAToken is issue 12's "done when" for joining: the
// wg-agent binary, run as nobody (no privileges: it picks netstack by
// itself) with the state directory, its ports and nothing else but
// WG_AGENT_JOIN and WG_AGENT_JOIN_TOKEN, joins a controller served over
// HTTPS with a self-signed certificate that the token pins, shows up
// online over TLS the controller pins, and takes a peer. A second agent
// with the same token is refused and creates nothing; the joined agent
// restarts without any token.
func TestJoinWithNothingButAToken(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildAgent(t)
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
		if err := os.Chmod(d, 0o755); err != nil { // nobody runs the binary
			t.Fatal(err)
		}
	}
	ctx := context.Background()

	c := controllertest.Start(t, "")
	front := httptest.NewUnstartedServer(c.Handler())
	front.StartTLS()
	t.Cleanup(front.Close)
	pin := agentapi.FingerprintOf(front.Certificate().Raw)
	tok, _, err := c.Fleet().CreateEnrollmentToken(ctx, "test", fleet.EnrollmentTokenInput{}, pin)
	if err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(root, "state")
	testenv.MkdirNobody(t, stateDir)
	apiPort, wgPort := freePort(t, "tcp"), freePort(t, "udp")
	argv := []string{bin, "--state-dir", stateDir, "--listen", "127.0.0.1:" + strconv.Itoa(apiPort),
		"--listen-port", strconv.Itoa(wgPort), "--log-level", "debug"}
	baseEnv := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	joinEnv := append([]string{"WG_AGENT_JOIN=" + front.URL, "WG_AGENT_JOIN_TOKEN=" + tok.String()}, baseEnv...)
	p := testenv.StartAs(t, testenv.NobodyID, testenv.NobodyID, argv, joinEnv)

	// The controller has the node, reaches it over the TLS it pinned.
	var node store.Node
	p.WaitUntil(t, 60*time.Second, "the joined node online", func() error {
		nodes, err := c.Store().ListNodes(ctx)
		if err != nil {
			return err
		}
		if len(nodes) != 1 {
			return fmt.Errorf("%d nodes", len(nodes))
		}
		node = nodes[0]
		if node.Status != store.NodeOnline {
			return fmt.Errorf("node status %s (%s)", node.Status, node.LastError)
		}
		return nil
	})
	testenv.Equal(t, "agent URL", node.AgentURL, "https://127.0.0.1:"+strconv.Itoa(apiPort))
	testenv.Equal(t, "endpoint", node.Endpoint, "127.0.0.1:"+strconv.Itoa(wgPort))
	testenv.Equal(t, "pool", node.IPPool.String(), "10.128.0.0/24")
	if node.TLSFingerprint.IsZero() {
		t.Fatal("the node pins no certificate")
	}
	e, ok, err := agent.LoadEnrollment(stateDir)
	if err != nil || !ok {
		t.Fatalf("enrollment: %v, %v", ok, err)
	}
	if st, err := os.Stat(filepath.Join(stateDir, agent.EnrollmentFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("enrollment file: %v, %v; want mode 0600", st, err)
	}
	testenv.Equal(t, "node id", e.NodeID, node.ID)
	testenv.Equal(t, "secret", e.Secret, string(node.Secret))

	// A peer made on the controller reaches the agent (its dump, read
	// with the enrolled secret over the pinned certificate).
	peerName := "laptop"
	peer, err := c.Fleet().CreatePeer(ctx, "test", node.ID, fleet.PeerInput{Name: &peerName})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := agentapi.PinnedTLSConfig(node.TLSFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	client, err := agentapi.NewClient(agentapi.ClientConfig{
		BaseURL: node.AgentURL, Secret: []byte(e.Secret),
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	hasPeer := func() error {
		d, err := client.Dump(ctx, node.WGInterface)
		if err != nil {
			return err
		}
		for _, dp := range d.Peers {
			if dp.PublicKey == peer.PublicKey {
				return nil
			}
		}
		return fmt.Errorf("peer %s not in the dump (%d peers)", peer.PublicKey, len(d.Peers))
	}
	p.WaitUntil(t, 30*time.Second, "the peer in the agent's dump", hasPeer)
	h, err := client.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Environment == nil || h.Environment.Mode != "netstack" || h.Environment.EUID != testenv.NobodyID {
		t.Errorf("health environment %+v, want netstack as uid %d", h.Environment, testenv.NobodyID)
	}

	// The token is used up: a second agent is refused, exits non-zero
	// with the controller's message, and nothing is created or saved.
	otherState := filepath.Join(root, "other")
	testenv.MkdirNobody(t, otherState)
	out, err := testenv.RunAs(testenv.NobodyID, testenv.NobodyID, []string{bin, "--state-dir", otherState,
		"--listen", "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp")), "--listen-port", strconv.Itoa(freePort(t, "udp"))}, joinEnv)
	if err == nil || !strings.Contains(string(out), "already used") || !strings.Contains(string(out), "HTTP 401") {
		t.Errorf("second use of the token: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(otherState, agent.EnrollmentFile)); err == nil {
		t.Error("the refused agent saved an enrollment")
	}
	if nodes, _ := c.Store().ListNodes(ctx); len(nodes) != 1 {
		t.Errorf("%d nodes after the refused join, want 1", len(nodes))
	}

	// Restarted with no token at all, the agent is the same node.
	if err := p.Stop(30 * time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, p.Logs)
	}
	logs := p.Logs.String()
	p = testenv.StartAs(t, testenv.NobodyID, testenv.NobodyID, argv, baseEnv)
	p.WaitUntil(t, 30*time.Second, "the restarted agent's dump with the peer", hasPeer)
	if err := p.Stop(30 * time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, p.Logs)
	}
	logs += p.Logs.String()
	if !strings.Contains(logs, "enrolled; no join token needed") {
		t.Errorf("the restart does not say it is enrolled:\n%s", p.Logs)
	}
	parsed, _ := agentapi.ParseJoinToken(tok.String())
	for what, secret := range map[string]string{"join token": parsed.Secret, "API secret": e.Secret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the agent logged its %s", what)
		}
	}
	if nodes, _ := c.Store().ListNodes(ctx); len(nodes) != 1 {
		t.Errorf("%d nodes after the restart, want 1", len(nodes))
	}
}
