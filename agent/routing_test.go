package agent_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
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
	"github.com/wgfleet/wgfleet/tunnel/egress"
)

// TestNetstackAgentRoutes runs an agent in netstack mode with its API and
// its metrics on every host address and a deny rule, and a client peer
// that sends everything to it: the client reaches a host service, but
// neither the agent's API port, its metrics port (issue 10: a VPN client
// reached it), its WireGuard port nor the denied port, although all listen.
func TestNetstackAgentRoutes(t *testing.T) {
	host := testenv.HostIPv4(t)
	serve := func(t *testing.T) netip.AddrPort {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(host, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte("service"))
				c.Close()
			}
		}()
		return ln.Addr().(*net.TCPAddr).AddrPort()
	}
	open, denied := serve(t), serve(t)
	deny, err := egress.ParseRules([]string{denied.String()})
	if err != nil {
		t.Fatal(err)
	}

	apiLn, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	apiPort := apiLn.Addr().(*net.TCPAddr).Port
	secret := agenttest.RandomSecret()
	env := container.Environment{}
	a, err := agent.New(agent.Config{
		Listen: apiLn.Addr().String(), MetricsListen: "0.0.0.0:0", Secrets: [][]byte{[]byte(secret)}, StateDir: t.TempDir(), Mode: "auto",
		Interfaces: []agent.InterfaceConfig{{
			Name: "wg0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.98.0.1/24")},
			EgressDeny: deny, MaxTCPConns: 8, TCPIdleTimeout: time.Minute,
		}},
		Environment: &env,
	})
	if err != nil {
		apiLn.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, apiLn) }()
	defer func() { cancel(); <-served }()

	if _, ok := a.ForwardStats("wg0"); !ok {
		t.Fatal("no forwarder on the netstack interface")
	}
	if _, ok := a.ForwardStats("nope"); ok {
		t.Fatal("stats for an unknown interface")
	}
	clientKey, _ := wgtypes.GeneratePrivateKey()
	client, err := tunnel.NewNetstack(tunnel.Config{Name: "c", PrivateKey: clientKey, Addresses: []netip.Prefix{netip.MustParsePrefix("10.98.0.2/32")}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	api, _ := agentapi.NewClient(agentapi.ClientConfig{BaseURL: "http://127.0.0.1:" + strconv.Itoa(apiPort), Secret: []byte(secret)})
	if _, err := api.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: clientKey.PublicKey().String(), AllowedIPs: []string{"10.98.0.2/32"}}); err != nil {
		t.Fatal(err)
	}
	srv := a.Tunnel("wg0")
	if err := client.Configure([]wgtypes.PeerConfig{{
		PublicKey: srv.PublicKey(), Endpoint: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: srv.ListenPort()},
		AllowedIPs: []net.IPNet{{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}},
	}}); err != nil {
		t.Fatal(err)
	}

	conn, err := client.Net().DialContextTCPAddrPort(ctx, open)
	if err != nil {
		t.Fatalf("a host service through the tunnel: %v", err)
	}
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "service" {
		t.Fatalf("read %q", got)
	}

	// The API and the metrics answer on the host address directly...
	metricsPort := uint16(a.MetricsAddr().(*net.TCPAddr).Port)
	for _, u := range []string{
		"http://" + netip.AddrPortFrom(host, uint16(apiPort)).String() + "/healthz",
		"http://" + netip.AddrPortFrom(host, metricsPort).String() + "/metrics",
	} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// ...but not through the tunnel; nor does the denied service, nor
	// anything on the WireGuard port.
	for _, dst := range []netip.AddrPort{
		netip.AddrPortFrom(host, uint16(apiPort)), netip.AddrPortFrom(host, metricsPort),
		netip.AddrPortFrom(host, uint16(srv.ListenPort())), denied,
	} {
		if c, err := client.Net().DialContextTCPAddrPort(ctx, dst); err == nil {
			c.Close()
			t.Fatalf("reached %v through the tunnel", dst)
		} else if !strings.Contains(err.Error(), "refused") {
			t.Fatalf("%v: %v, want refused", dst, err)
		}
	}
	s, _ := a.ForwardStats("wg0")
	if s.TCPRefused != 4 || s.TCPOpened != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestConfigFileRouting(t *testing.T) {
	tests := []struct {
		name, iface string
		err         string // "" means valid
	}{
		{"all fields", `"egress_allow":["10.0.0.0/8","[fd00::1]:53"],"egress_deny":["10.0.0.5/32:22"],"max_tcp_conns":5,"max_udp_flows":6,"tcp_idle_timeout":"30m","udp_idle_timeout":"45s"`, ""},
		{"bad allow", `"egress_allow":["10.0.0.0/33"]`, "egress_allow"},
		{"bad deny", `"egress_deny":["example.com"]`, "egress_deny"},
		{"bad duration", `"tcp_idle_timeout":"soon"`, "tcp_idle_timeout"},
		{"negative duration", `"udp_idle_timeout":"-1s"`, "udp_idle_timeout"},
		{"unknown field", `"egress":["10.0.0.0/8"]`, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc, err := agent.ParseConfigFile([]byte(`{"interfaces":[{"name":"wg0",` + tt.iface + `}]}`))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one about %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ic := fc.Interfaces[0]
			if allow, deny := ic.EgressAllow, ic.EgressDeny; len(allow) != 2 || allow[1].String() != "fd00::1/128:53" || len(deny) != 1 || deny[0].String() != "10.0.0.5/32:22" {
				t.Fatalf("egress allow %v deny %v", allow, deny)
			}
			if ic.TCPIdleTimeout != 30*time.Minute || ic.UDPIdleTimeout != 45*time.Second {
				t.Fatalf("idle timeouts tcp %v udp %v, want 30m and 45s", ic.TCPIdleTimeout, ic.UDPIdleTimeout)
			}
			if ic.MaxTCPConns != 5 || ic.MaxUDPFlows != 6 {
				t.Fatalf("limits tcp %d udp %d, want 5 and 6", ic.MaxTCPConns, ic.MaxUDPFlows)
			}
			if ic.ListenPort != agent.DefaultListenPort {
				t.Fatalf("listen port %d, want the default %d when the file leaves it out", ic.ListenPort, agent.DefaultListenPort)
			}
		})
	}
}

func TestValidateRoutingLimits(t *testing.T) {
	base := agent.Config{Listen: ":0", Secrets: [][]byte{[]byte(agenttest.RandomSecret())}, StateDir: "x", Mode: "auto"}
	for _, ic := range []agent.InterfaceConfig{
		{Name: "wg0", MaxTCPConns: -1},
		{Name: "wg0", MaxUDPFlows: -1},
		{Name: "wg0", TCPIdleTimeout: -time.Second},
		{Name: "wg0", UDPIdleTimeout: -time.Second},
	} {
		c := base
		c.Interfaces = []agent.InterfaceConfig{ic}
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", ic)
		}
	}
}
