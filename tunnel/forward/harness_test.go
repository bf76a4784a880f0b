package forward

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/tunnel"
)

// allowAll is a policy that refuses nothing.
var allowAll = PolicyFunc(func(netip.Addr, uint16) error { return nil })

// logBuffer collects log lines (debug level) for a test to inspect, and
// shows them when the test fails or runs with -v.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func newLogBuffer(t *testing.T) *logBuffer {
	lb := &logBuffer{t: t}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("log:\n%s", lb.String())
		}
	})
	return lb
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// hubNode is the node under test: a netstack tunnel with a Forwarder in
// front, addresses 10.9.0.1/24 and fd09::1/64.
type hubNode struct {
	tun  *tunnel.Tunnel
	fwd  *Forwarder
	log  *logBuffer
	taps map[*tunnel.Tunnel]*echoTap // of the clients
}

// echoTap sits in a client's device and notes every ICMP echo reply the
// client receives, by source, before its netstack sees it. (netstack's
// PingConn can miss replies; a test should not depend on that.)
type echoTap struct {
	tun.Device
	mu      sync.Mutex
	replies map[netip.Addr]int
}

func (d *echoTap) Write(bufs [][]byte, off int) (int, error) {
	for _, b := range bufs {
		if h, ok := parseIP(b[off:]); ok && h.l4 != 0 && !h.fragment &&
			(h.proto == protoICMP && h.icmpType == icmpEchoReply4 || h.proto == protoICMPv6 && h.icmpType == icmpEchoReply6) {
			d.mu.Lock()
			d.replies[h.src]++
			d.mu.Unlock()
		}
	}
	return d.Device.Write(bufs, off)
}

func (d *echoTap) repliesFrom(a netip.Addr) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.replies[a]
}

func newHub(t *testing.T, cfg Config) *hubNode {
	t.Helper()
	lb := newLogBuffer(t)
	addrs := []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24"), netip.MustParsePrefix("fd09::1/64")}
	cfg.Addresses = addrs
	if cfg.Policy == nil {
		cfg.Policy = allowAll
	}
	cfg.Logger = lb.logger()
	fwd, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := wgtypes.GeneratePrivateKey()
	tn, err := tunnel.NewNetstackWith(tunnel.Config{Name: "hub", PrivateKey: key, Addresses: addrs, Logger: lb.logger()}, fwd.Wrap)
	if err != nil {
		fwd.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tn.Close(); err != nil {
			t.Errorf("closing hub: %v", err)
		}
	})
	return &hubNode{tun: tn, fwd: fwd, log: lb, taps: map[*tunnel.Tunnel]*echoTap{}}
}

// addClient makes a peer with the given addresses that sends everything
// (0.0.0.0/0, ::/0) to the hub, and makes it a peer of the hub.
func (h *hubNode) addClient(t *testing.T, name string, addrs ...string) *tunnel.Tunnel {
	t.Helper()
	var ps []netip.Prefix
	var hosts []net.IPNet
	for _, a := range addrs {
		p := netip.MustParsePrefix(a)
		ps = append(ps, p)
		hosts = append(hosts, net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Addr().BitLen(), p.Addr().BitLen())})
	}
	key, _ := wgtypes.GeneratePrivateKey()
	tap := &echoTap{replies: map[netip.Addr]int{}}
	c, err := tunnel.NewNetstackWith(tunnel.Config{Name: name, PrivateKey: key, Addresses: ps, Logger: h.log.logger()},
		func(d tun.Device) (tun.Device, error) { tap.Device = d; return tap, nil })
	if err != nil {
		t.Fatal(err)
	}
	h.taps[c] = tap
	t.Cleanup(func() { c.Close() })
	err = c.Configure([]wgtypes.PeerConfig{{
		PublicKey:         h.tun.PublicKey(),
		Endpoint:          &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: h.tun.ListenPort()},
		ReplaceAllowedIPs: true,
		AllowedIPs:        []net.IPNet{{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}, {IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	err = h.tun.Configure([]wgtypes.PeerConfig{{
		PublicKey:  c.PublicKey(),
		Endpoint:   &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c.ListenPort()},
		AllowedIPs: hosts,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// echoServerTCP accepts connections on a host loopback port and echoes
// each back until EOF, then closes. It returns the address.
func echoServerTCP(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// echoServerUDP echoes every datagram on a host loopback port.
func echoServerUDP(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// redirectDial is a Config.Dial that connects to the real address routes
// names for a destination (and to the destination itself otherwise), so
// that tests can use documentation addresses as destinations and serve
// them on loopback, which a gVisor peer cannot address. It records every
// destination dialed.
type redirectDial struct {
	mu     sync.Mutex
	routes map[netip.AddrPort]netip.AddrPort
	dialed []string
}

func newRedirect() *redirectDial {
	return &redirectDial{routes: map[netip.AddrPort]netip.AddrPort{}}
}

func (r *redirectDial) add(from string, to netip.AddrPort) netip.AddrPort {
	ap := netip.MustParseAddrPort(from)
	r.mu.Lock()
	r.routes[ap] = to
	r.mu.Unlock()
	return ap
}

func (r *redirectDial) dial(ctx context.Context, network, address string) (net.Conn, error) {
	r.mu.Lock()
	r.dialed = append(r.dialed, network+" "+address)
	if to, ok := r.routes[netip.MustParseAddrPort(address)]; ok {
		address = to.String()
	}
	r.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

func (r *redirectDial) dials() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.dialed...)
}
