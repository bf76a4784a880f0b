package agent_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/tunnel"
)

// TestMetrics: with a metrics listener, GET /metrics on it (and only on
// it) shows the interface's peers, their traffic after a transfer through
// a client tunnel, the group commits and the netstack forwarding counters,
// and never a secret or a key but the public one. The listener closes with
// the agent.
func TestMetrics(t *testing.T) {
	before := tcpListeners(t)
	a := agenttest.Start(t, agenttest.Options{
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24")}, MetricsListen: "127.0.0.1:0",
	})
	if a.MetricsURL == "" || a.MetricsAddr() == nil {
		t.Fatal("no metrics listener")
	}
	if got := newListeners(t, before); before != nil && !slices.Equal(got, sortedOf(a.Addr, a.MetricsAddr().String())) {
		t.Fatalf("new listeners %v, want the API's %s and the metrics' %s", got, a.Addr, a.MetricsAddr())
	}
	server := a.Tunnel("wg0")
	pub := server.PublicKey().String()

	m := scrape(t, a.MetricsURL)
	m.want(t, `wgagent_interface_info{iface="wg0",mode="netstack",public_key="`+pub+`"}`, 1)
	m.want(t, `wgagent_interface_peers{iface="wg0",mode="netstack"}`, 0)
	m.want(t, `wgagent_peer_receive_bytes_total{iface="wg0"}`, 0)
	m.want(t, `wgagent_commits_total{iface="wg0"}`, 0)
	m.want(t, `wgagent_forward_hub_packets_total{iface="wg0"}`, 0)

	// The API and the metrics are apart: neither serves the other.
	if code := statusOf(t, http.MethodGet, a.URL+"/metrics"); code != http.StatusNotFound {
		t.Errorf("API GET /metrics: %d, want 404", code)
	}
	metricsBase := strings.TrimSuffix(a.MetricsURL, "/metrics")
	if code := statusOf(t, http.MethodGet, metricsBase+"/health"); code != http.StatusNotFound {
		t.Errorf("metrics listener GET /health: %d, want 404", code)
	}
	if code := statusOf(t, http.MethodPost, a.MetricsURL); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", code)
	}

	// Two peers through the API, one with a preshared key; the same peer
	// again is refused.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := a.Client(t)
	clientKey, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	ka := 25
	clientReq := agentapi.AddPeerRequest{PublicKey: clientKey.PublicKey().String(), AllowedIPs: []string{"10.99.0.2/32"}, PersistentKeepalive: &ka}
	if _, err := c.AddPeer(ctx, "wg0", clientReq); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := wgtypes.GeneratePrivateKey()
	psk, _ := wgtypes.GenerateKey()
	pskText := psk.String()
	if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{
		PublicKey: otherKey.PublicKey().String(), AllowedIPs: []string{"10.99.0.9/32"}, PresharedKey: &pskText,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPeer(ctx, "wg0", clientReq); !errors.Is(err, agentapi.ErrConflict) {
		t.Fatalf("adding the client again: %v, want a conflict", err)
	}

	// Traffic: 256 KiB to a service in the agent's netstack, then a
	// connection attempt to 10.99.0.3, which no peer has: the agent routes
	// it between peers (hub routing) and WireGuard drops it.
	client, err := tunnel.NewNetstack(tunnel.Config{
		Name: "client0", PrivateKey: clientKey, Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.2/32")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Configure([]wgtypes.PeerConfig{{
		PublicKey: server.PublicKey(), Endpoint: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: server.ListenPort()},
		AllowedIPs: []net.IPNet{{IP: net.IPv4(10, 99, 0, 0), Mask: net.CIDRMask(24, 32)}},
	}}); err != nil {
		t.Fatal(err)
	}
	const payload = 256 << 10
	sendTo(ctx, t, server, client, payload)
	hctx, hcancel := context.WithTimeout(ctx, 2*time.Second)
	if conn, err := client.Net().DialContext(hctx, "tcp", "10.99.0.3:80"); err == nil {
		conn.Close()
		t.Fatal("reached 10.99.0.3, which no peer has")
	}
	hcancel()

	m = scrape(t, a.MetricsURL)
	m.want(t, `wgagent_interface_info{iface="wg0",mode="netstack",public_key="`+pub+`"}`, 1)
	m.want(t, `wgagent_interface_peers{iface="wg0",mode="netstack"}`, 2)
	m.want(t, `wgagent_interface_active_peers{iface="wg0"}`, 1)
	m.want(t, `wgagent_interface_scrape_error{iface="wg0"}`, 0)
	m.want(t, `wgagent_commit_batches_total{iface="wg0"}`, 2)
	m.want(t, `wgagent_commits_total{iface="wg0"}`, 2)
	m.want(t, `wgagent_commit_refused_total{iface="wg0"}`, 1)
	m.want(t, `wgagent_commit_failed_total{iface="wg0"}`, 0)
	m.want(t, `wgagent_forward_tcp_active{iface="wg0"}`, 0)
	m.want(t, `wgagent_forward_tcp_opened_total{iface="wg0"}`, 0)
	m.want(t, `wgagent_forward_hub_refused_total{iface="wg0"}`, 0)
	rx := m.atLeast(t, `wgagent_peer_receive_bytes_total{iface="wg0"}`, payload)
	tx := m.atLeast(t, `wgagent_peer_transmit_bytes_total{iface="wg0"}`, 1)
	m.atLeast(t, `wgagent_forward_hub_packets_total{iface="wg0"}`, 1)
	for _, name := range []string{
		"tcp_refused_total", "tcp_limited_total", "tcp_failed_total", "tcp_idle_closed_total",
		"udp_active", "udp_opened_total", "udp_refused_total", "udp_limited_total", "udp_failed_total", "udp_idle_closed_total",
		"ping_answered_total", "ping_unanswered_total", "ping_refused_total",
		"dns_queries_total", "dns_failed_total", "dropped_packets_total",
	} {
		m.value(t, `wgagent_forward_`+name+`{iface="wg0"}`)
	}
	if !strings.Contains(m.text, "\ngo_goroutines ") || !strings.Contains(m.text, "\nprocess_start_time_seconds ") {
		t.Error("no Go or process metrics")
	}
	for _, l := range m.lines {
		if strings.HasPrefix(l, "wgagent_") && strings.Contains(l, clientKey.PublicKey().String()) {
			t.Errorf("a per-peer series: %s", l)
		}
	}

	// Nothing secret: not the API secret, the preshared key, nor the
	// interface's private key, in base64 or in the hex of UAPI.
	keyText, err := os.ReadFile(filepath.Join(a.StateDir, "wg0.key"))
	if err != nil {
		t.Fatal(err)
	}
	privKey, err := wgtypes.ParseKey(strings.TrimSpace(string(keyText)))
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{
		"the API secret": a.Secret, "the preshared key": pskText, "the preshared key (hex)": hex.EncodeToString(psk[:]),
		"the private key": privKey.String(), "the private key (hex)": hex.EncodeToString(privKey[:]),
		"the client's public key": clientKey.PublicKey().String(),
	} {
		if strings.Contains(m.text, s) {
			t.Errorf("metrics show %s", what)
		}
	}

	// Removing the client keeps its bytes in the interface's counters.
	if err := c.DeletePeer(ctx, "wg0", clientKey.PublicKey()); err != nil {
		t.Fatal(err)
	}
	m = scrape(t, a.MetricsURL)
	m.want(t, `wgagent_interface_peers{iface="wg0",mode="netstack"}`, 1)
	m.want(t, `wgagent_interface_active_peers{iface="wg0"}`, 0)
	m.want(t, `wgagent_commits_total{iface="wg0"}`, 3)
	m.atLeast(t, `wgagent_peer_receive_bytes_total{iface="wg0"}`, rx)
	m.atLeast(t, `wgagent_peer_transmit_bytes_total{iface="wg0"}`, tx)

	// The metrics listener closes with the agent.
	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}
	if resp, err := http.Get(a.MetricsURL); err == nil {
		resp.Body.Close()
		t.Fatalf("metrics still served after Stop: %s", resp.Status)
	}
	if before != nil {
		if got := newListeners(t, before); len(got) != 0 {
			t.Fatalf("listeners left after Stop: %v", got)
		}
	}
}

// TestMetricsOff: without MetricsListen the agent listens on its API
// address only, and the API has no /metrics.
func TestMetricsOff(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts the process's listening sockets in /proc")
	}
	before := tcpListeners(t)
	a := agenttest.Start(t, agenttest.Options{})
	if got := newListeners(t, before); !slices.Equal(got, []string{a.Addr}) {
		t.Fatalf("new listeners %v, want the API's %s only", got, a.Addr)
	}
	if a.MetricsAddr() != nil || a.MetricsURL != "" {
		t.Fatalf("metrics address %v, URL %q without MetricsListen", a.MetricsAddr(), a.MetricsURL)
	}
	if code := statusOf(t, http.MethodGet, a.URL+"/metrics"); code != http.StatusNotFound {
		t.Fatalf("API GET /metrics: %d, want 404", code)
	}
}

// TestMetricsListenerInUse: an agent whose metrics address is taken does
// not start, and says why.
func TestMetricsListenerInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	env := container.Environment{}
	a, err := agent.New(agent.Config{
		Listen: "127.0.0.1:0", MetricsListen: taken.Addr().String(), Secrets: [][]byte{[]byte(agenttest.RandomSecret())},
		StateDir: t.TempDir(), Mode: "netstack", Interfaces: []agent.InterfaceConfig{{Name: "wg0"}}, Environment: &env,
	})
	if err == nil {
		a.Close()
		t.Fatal("started with its metrics address taken")
	}
	if !strings.Contains(err.Error(), "metrics") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("error %q does not say the metrics address is taken", err)
	}
}

// sendTo sends n random bytes from client to a checksum sink on the server
// tunnel's 10.99.0.1:9000 and checks that all arrived intact.
func sendTo(ctx context.Context, t *testing.T, server, client *tunnel.Tunnel, n int) {
	t.Helper()
	ln, err := server.Net().ListenTCP(&net.TCPAddr{IP: net.IPv4(10, 99, 0, 1), Port: 9000})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go testenv.ServeSHA256(ln)
	conn, err := client.Net().DialContext(ctx, "tcp", "10.99.0.1:9000")
	if err != nil {
		t.Fatalf("dial through tunnel: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	testenv.SendChecked(t, conn, int64(n), 1)
}

// metricsPage is one scrape.
type metricsPage struct {
	text  string
	lines []string
}

func scrape(t *testing.T, url string) metricsPage {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %s, %s\n%s", url, resp.Status, resp.Header.Get("Content-Type"), body)
	}
	return metricsPage{text: string(body), lines: strings.Split(string(body), "\n")}
}

// value is the value of the one sample line "series value".
func (m metricsPage) value(t *testing.T, series string) float64 {
	t.Helper()
	var found []string
	for _, l := range m.lines {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d lines of %s, want 1", len(found), series)
	}
	v, err := strconv.ParseFloat(found[0], 64)
	if err != nil {
		t.Fatalf("%s %s: %v", series, found[0], err)
	}
	return v
}

func (m metricsPage) want(t *testing.T, series string, want float64) {
	t.Helper()
	if got := m.value(t, series); got != want {
		t.Errorf("%s %v, want %v", series, got, want)
	}
}

func (m metricsPage) atLeast(t *testing.T, series string, min float64) float64 {
	t.Helper()
	got := m.value(t, series)
	if got < min {
		t.Errorf("%s %v, want at least %v", series, got, min)
	}
	return got
}

func statusOf(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tcpListeners is the local addresses of this process's listening TCP
// sockets, read from /proc; nil off Linux.
func tcpListeners(t *testing.T) map[string]bool {
	t.Helper()
	if runtime.GOOS != "linux" {
		return nil
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	out := map[string]bool{}
	for _, file := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
				continue
			}
			ap, err := procAddr(f[1])
			if err != nil {
				t.Fatalf("%s: %q: %v", file, f[1], err)
			}
			out[ap.String()] = true
		}
	}
	return out
}

// procAddr decodes a /proc/net/tcp address: the IP as 32-bit words in
// host (little-endian) order, the port in hex.
func procAddr(s string) (netip.AddrPort, error) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, errors.New("no port")
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q", ipHex)
	}
	for w := 0; w < len(raw); w += 4 {
		slices.Reverse(raw[w : w+4])
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}

// newListeners is the listening addresses not in before, sorted.
func newListeners(t *testing.T, before map[string]bool) []string {
	t.Helper()
	var out []string
	for a := range tcpListeners(t) {
		if !before[a] {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

func sortedOf(s ...string) []string {
	slices.Sort(s)
	return s
}
