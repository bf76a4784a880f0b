package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.org/x/net/dns/dnsmessage"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestRootlessAgentRoutes runs the wg-agent binary in namespace A as
// nobody, without capabilities and without /dev/net/tun, in mode auto: it
// must pick netstack by itself and then route like a node with a kernel
// interface. Client peers: Debian's wireguard-go in namespaces B and C,
// and a gVisor peer (this process) in B that can address 127.0.0.1. The
// services listen on 172.31.9.1, an address of A that B reaches only
// through the tunnel.
func TestRootlessAgentRoutes(t *testing.T) {
	requireTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := buildAgentShared(t)

	// DNS: ip netns exec puts /etc/netns/<ns>/resolv.conf in place of
	// /etc/resolv.conf for what it runs, so A's agent asks 172.31.9.1.
	tp := startTopologyWithResolver(t, ctx, bin)

	env := tp.health.Environment
	if env == nil || env.Mode != "netstack" || env.ModeRequested != "auto" || env.EUID != 65534 || env.CapNetAdmin || env.TUNAvailable ||
		!strings.Contains(env.Reason, "CAP_NET_ADMIN") || !strings.Contains(env.Reason, "/dev/net/tun") {
		t.Fatalf("environment: %+v, want netstack chosen by auto for lack of CAP_NET_ADMIN and /dev/net/tun, as uid 65534", env)
	}
	if len(tp.health.Interfaces) != 1 || tp.health.Interfaces[0].Mode != "netstack" {
		t.Fatalf("interfaces: %+v", tp.health.Interfaces)
	}

	// Services in A.
	listen := func(network, addr string) net.Listener {
		ln, err := testenv.ListenInNetNS(tp.nsA, network, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	go echoTCP(listen("tcp", topoServiceAddr+":9000"))
	go echoTCP(listen("tcp", topoServiceAddr+":9001")) // denied by the agent's policy
	go echoTCP(listen("tcp", "127.0.0.1:9002"))        // the host's loopback
	go testenv.ServeSHA256(listen("tcp", topoServiceAddr+":9003"))
	httpSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from A to "+r.RemoteAddr)
	})}
	go func() { _ = httpSrv.Serve(listen("tcp", topoServiceAddr+":80")) }()
	defer httpSrv.Close()
	var udp net.PacketConn
	if err := testenv.InNetNS(tp.nsA, func() (err error) { udp, err = net.ListenPacket("udp", topoServiceAddr+":9000"); return }); err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	go echoUDP(udp)

	// Without the tunnel, B has no way to the services at all.
	if c, err := testenv.DialerInNetNS(tp.nsB)(ctx, "tcp", topoServiceAddr+":9000"); err == nil {
		c.Close()
		t.Fatal("B reaches A's service address without the tunnel: the test would prove nothing")
	}

	// Peers: B and C (wireguard-go), D (gVisor, in B).
	nsC := testenv.NetNS(t, "fwc")
	testenv.Veth(t, tp.nsA, "192.168.81.1/24", nsC, "192.168.81.2/24")
	tp.addWireguardGo(t, ctx, tp.nsB, "10.80.0.2", topoUnderlayA+":51820", "172.31.9.0/24")
	tp.addWireguardGo(t, ctx, nsC, "10.80.0.3", "192.168.81.1:51820")
	d := netstackPeer(t, ctx, tp, "10.80.0.4")

	dialB := testenv.DialerInNetNS(tp.nsB)
	// The first connection also waits for the handshakes.
	waitUntil(t, ctx, func() bool {
		c, err := dialB(ctx, "tcp", topoServiceAddr+":9000")
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	t.Run("tcp", func(t *testing.T) {
		c, err := dialB(ctx, "tcp", topoServiceAddr+":9000")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write([]byte("ping over tcp")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 13)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping over tcp" {
			t.Fatalf("echo %q, %v", buf, err)
		}
	})
	t.Run("udp", func(t *testing.T) {
		c, err := dialB(ctx, "udp", topoServiceAddr+":9000")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		got := ""
		for try := 0; try < 5 && got != "datagram"; try++ {
			_, _ = c.Write([]byte("datagram"))
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			if n, err := c.Read(buf); err == nil {
				got = string(buf[:n])
			}
		}
		if got != "datagram" {
			t.Fatalf("no UDP echo through the tunnel (got %q)", got)
		}
	})
	t.Run("http", func(t *testing.T) {
		hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: dialB}}
		resp, err := hc.Get("http://" + topoServiceAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// The service sees a host socket of A, not the peer: user-space NAT.
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello from A to "+topoServiceAddr+":") {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("hub", func(t *testing.T) {
		ln, err := testenv.ListenInNetNS(nsC, "tcp", "10.80.0.3:7000")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go echoTCP(ln)
		c, err := dialB(ctx, "tcp", "10.80.0.3:7000")
		if err != nil {
			t.Fatalf("B to C through the hub: %v", err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		_, _ = c.Write([]byte("B->C"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "B->C" {
			t.Fatalf("echo %q, %v", buf, err)
		}
		testenv.Run(t, "ip", "netns", "exec", nsC, "ping", "-c", "2", "-i", "0.3", "-W", "3", "10.80.0.2")
	})
	t.Run("policy refuses", func(t *testing.T) {
		// Both listen; only the policy stands in the way.
		for _, dst := range []string{topoServiceAddr + ":9001", topoServiceAddr + ":8080"} {
			c, err := dialB(ctx, "tcp", dst)
			if err == nil {
				c.Close()
				t.Fatalf("reached %s through the tunnel", dst)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("%s: %v, want connection refused (reset by the forwarder)", dst, err)
			}
		}
		// The API does listen on that address, seen from A itself.
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: testenv.DialerInNetNS(tp.nsA)}}
		resp, err := hc.Get("http://" + topoServiceAddr + ":8080/healthz")
		if err != nil {
			t.Fatalf("the API is not on %s:8080 at all, so refusing it proves nothing: %v", topoServiceAddr, err)
		}
		resp.Body.Close()
		// The host's loopback, from a peer that can address it.
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if c, err := d.Net().DialContext(dctx, "tcp", "127.0.0.1:9002"); err == nil {
			c.Close()
			t.Fatal("reached A's 127.0.0.1:9002 through the tunnel")
		}
		logs := tp.logs.String()
		for _, want := range []string{
			"matches deny rule " + topoServiceAddr + "/32:9001",
			"is a port the agent listens on (API, metrics or WireGuard), on a host address",
			"is the host itself",
		} {
			if !strings.Contains(logs, want) {
				t.Errorf("no debug line saying %q", want)
			}
		}
	})
	t.Run("dns", func(t *testing.T) {
		c, err := dialB(ctx, "udp", topoAgentIP+":53")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write(dnsQuery(t, 0x5151, "example.org."))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no DNS answer from the agent's address: %v", err)
		}
		if a := dnsA(buf[:n], 0x5151); a != "192.0.2.53" {
			t.Fatalf("answer %q, want the resolver's 192.0.2.53", a)
		}
	})
	t.Run("ping", func(t *testing.T) {
		// Unprivileged ICMP is off by default: no answer, and a debug line.
		if exec.Command("ip", "netns", "exec", tp.nsB, "ping", "-c", "1", "-W", "2", topoServiceAddr).Run() == nil {
			t.Fatal("ping answered although A allows no unprivileged ICMP sockets")
		}
		if !strings.Contains(tp.logs.String(), "ping_group_range") {
			t.Fatal("no debug line about net.ipv4.ping_group_range")
		}
		testenv.Run(t, "ip", "netns", "exec", tp.nsA, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
		testenv.Run(t, "ip", "netns", "exec", tp.nsB, "ping", "-c", "2", "-i", "0.3", "-W", "3", topoServiceAddr)
	})
	t.Run("100MB intact", func(t *testing.T) {
		size := int64(100 << 20)
		if testing.Short() {
			size = 8 << 20
		}
		tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
		defer cancel()
		d := sendChecked(t, tctx, tp.nsB, topoServiceAddr+":9003", size, 1)
		t.Logf("%d MB in %v: %.1f MB/s through the netstack forwarder", size>>20, d.Round(time.Millisecond), mbps(size, d))
	})

	// SIGTERM: clean exit.
	if err := tp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-tp.exited:
		tp.exited <- err
		if err != nil {
			t.Fatalf("agent exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop after SIGTERM")
	}
}

// startTopologyWithResolver starts the unprivileged topology with a deny
// rule and a DNS server on 172.31.9.1 that A's /etc/resolv.conf names.
func startTopologyWithResolver(t *testing.T, ctx context.Context, bin string) *topology {
	t.Helper()
	// The resolver file must be in place before `ip netns exec` runs the
	// agent.
	tp := startTopology(t, ctx, bin, true, func(nsA string) {
		dir := filepath.Join("/etc/netns", nsA)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver "+topoServiceAddr+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var pc net.PacketConn
		if err := testenv.InNetNS(nsA, func() (err error) { pc, err = net.ListenPacket("udp", topoServiceAddr+":53"); return }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go serveDNS(pc, netip.MustParseAddr("192.0.2.53"))
	}, "--egress-deny", topoServiceAddr+"/32:9001")
	return tp
}

// netstackPeer makes a gVisor peer in namespace B (its UDP socket there)
// that sends everything into the tunnel, so it can address 127.0.0.1.
func netstackPeer(t *testing.T, ctx context.Context, tp *topology, addr string) *tunnel.Tunnel {
	t.Helper()
	key, _ := wgtypes.GeneratePrivateKey()
	var d *tunnel.Tunnel
	if err := testenv.InNetNS(tp.nsB, func() (err error) {
		d, err = tunnel.NewNetstack(tunnel.Config{Name: "peer-d", PrivateKey: key, Addresses: []netip.Prefix{netip.MustParsePrefix(addr + "/32")}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	agentKey, err := wgtypes.ParseKey(tp.health.Interfaces[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Configure([]wgtypes.PeerConfig{{
		PublicKey: agentKey, Endpoint: &net.UDPAddr{IP: net.ParseIP(topoUnderlayA), Port: 51820},
		AllowedIPs: []net.IPNet{{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.api.AddPeer(ctx, tp.iface, agentapi.AddPeerRequest{PublicKey: key.PublicKey().String(), AllowedIPs: []string{addr + "/32"}}); err != nil {
		t.Fatal(err)
	}
	return d
}

func echoTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			_, _ = io.Copy(c, c)
		}()
	}
}

func echoUDP(pc net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = pc.WriteTo(buf[:n], from)
	}
}

func dnsQuery(t *testing.T, id uint16, name string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	q, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// dnsA is the first A record of a response with the given ID, or "".
func dnsA(resp []byte, id uint16) string {
	var p dnsmessage.Parser
	if h, err := p.Start(resp); err != nil || h.ID != id {
		return ""
	}
	_ = p.SkipAllQuestions()
	for {
		a, err := p.Answer()
		if err != nil {
			return ""
		}
		if r, ok := a.Body.(*dnsmessage.AResource); ok {
			return netip.AddrFrom4(r.A).String()
		}
	}
}

// serveDNS answers every A question on pc with addr.
func serveDNS(pc net.PacketConn, addr netip.Addr) {
	buf := make([]byte, 4096)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		qs, err := p.AllQuestions()
		if err != nil || len(qs) != 1 {
			continue
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RecursionAvailable: true})
		_ = b.StartQuestions()
		_ = b.Question(qs[0])
		_ = b.StartAnswers()
		_ = b.AResource(dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: addr.As4()})
		out, _ := b.Finish()
		_, _ = pc.WriteTo(out, from)
	}
}

// TestTUNAgentHubRouting is hub routing in TUN mode, where the host's
// kernel forwards between peers: the agent warns at start that A does not
// forward, peers B and C cannot reach each other, and once
// net.ipv4.ip_forward=1 they can.
func TestTUNAgentHubRouting(t *testing.T) {
	requireTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tp := startTopology(t, ctx, buildAgentShared(t), false, nil)
	if tp.health.Interfaces[0].Mode != "tun" {
		t.Fatalf("agent in %s mode", tp.health.Interfaces[0].Mode)
	}
	if !strings.Contains(tp.logs.String(), "the host does not forward IPv4 (net.ipv4.ip_forward = 0)") {
		t.Fatal("no start-up warning about net.ipv4.ip_forward")
	}
	nsC := testenv.NetNS(t, "fwc")
	testenv.Veth(t, tp.nsA, "192.168.81.1/24", nsC, "192.168.81.2/24")
	tp.addWireguardGo(t, ctx, tp.nsB, "10.80.0.2", topoUnderlayA+":51820")
	tp.addWireguardGo(t, ctx, nsC, "10.80.0.3", "192.168.81.1:51820")
	ln, err := testenv.ListenInNetNS(nsC, "tcp", "10.80.0.3:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go echoTCP(ln)
	// Both peers reach the agent...
	for _, ns := range []string{tp.nsB, nsC} {
		waitUntil(t, ctx, func() bool {
			return exec.Command("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", topoAgentIP).Run() == nil
		})
	}
	// ...but not each other while A does not forward.
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
	defer dcancel()
	if c, err := testenv.DialerInNetNS(tp.nsB)(dctx, "tcp", "10.80.0.3:7000"); err == nil {
		c.Close()
		t.Fatal("B reached C through a host that does not forward")
	}
	testenv.Run(t, "ip", "netns", "exec", tp.nsA, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	c, err := testenv.DialerInNetNS(tp.nsB)(ctx, "tcp", "10.80.0.3:7000")
	if err != nil {
		t.Fatalf("B to C through the TUN hub with forwarding on: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, _ = c.Write([]byte("via kernel"))
	buf := make([]byte, 10)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "via kernel" {
		t.Fatalf("echo %q, %v", buf, err)
	}
}
