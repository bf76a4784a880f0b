package forward

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/tunnel"
	"github.com/wgfleet/wgfleet/tunnel/egress"
)

// udpFrom opens a UDP socket on a client's netstack, connected to dst.
func udpFrom(t *testing.T, c *tunnel.Tunnel, dst netip.AddrPort) *gonet.UDPConn {
	t.Helper()
	conn, err := c.Net().DialUDPAddrPort(netip.AddrPort{}, dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// roundTrip sends msg and waits up to wait for a datagram back; "" when
// none came.
func roundTrip(t *testing.T, conn *gonet.UDPConn, msg string, wait time.Duration) string {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func TestUDPForwardEcho(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	rd := newRedirect()
	h := newHub(t, Config{Dial: rd.dial})
	c := h.addClient(t, "c1", "10.9.0.2/32", "fd09::2/128")
	echo := echoServerUDP(t)
	for _, dst := range []netip.AddrPort{rd.add("198.51.100.20:5353", echo), rd.add("[2001:db8::20]:5353", echo)} {
		conn := udpFrom(t, c, dst)
		for i := range 3 {
			msg := strings.Repeat("u", 100*(i+1))
			if got := roundTrip(t, conn, msg, 10*time.Second); got != msg {
				t.Fatalf("%v: echo %q, want %q", dst, got, msg)
			}
		}
	}
	s := waitStats(t, h.fwd, "two flows", func(s Stats) bool { return s.UDPOpened == 2 && s.UDPActive == 2 })
	if s.UDPRefused+s.UDPLimited+s.UDPFailed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestUDPRefusedByPolicy(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	rd := newRedirect()
	deny, _ := egress.ParseRules([]string{"198.51.100.21:5353"})
	h := newHub(t, Config{Dial: rd.dial, Policy: egress.New(egress.Config{Deny: deny})})
	c := h.addClient(t, "c1", "10.9.0.2/32")
	echo := echoServerUDP(t)
	refused := udpFrom(t, c, rd.add("198.51.100.21:5353", echo))
	if got := roundTrip(t, refused, "no", 500*time.Millisecond); got != "" {
		t.Fatalf("a denied destination answered %q", got)
	}
	allowed := udpFrom(t, c, rd.add("198.51.100.22:5353", echo))
	if got := roundTrip(t, allowed, "yes", 10*time.Second); got != "yes" {
		t.Fatalf("allowed destination: %q", got)
	}
	s := waitStats(t, h.fwd, "counts", func(s Stats) bool { return s.UDPRefused == 1 && s.UDPOpened == 1 })
	if len(rd.dials()) != 1 {
		t.Fatalf("dials %v, want only the allowed one", rd.dials())
	}
	if !strings.Contains(h.log.String(), `msg="UDP datagram refused"`) {
		t.Fatalf("refusal not logged; stats %+v", s)
	}
}

func TestUDPFlowLimitAndIdle(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	rd := newRedirect()
	h := newHub(t, Config{Dial: rd.dial, MaxUDPFlows: 1, UDPIdleTimeout: 300 * time.Millisecond})
	c := h.addClient(t, "c1", "10.9.0.2/32")
	dst := rd.add("198.51.100.23:7", echoServerUDP(t))

	first := udpFrom(t, c, dst)
	if got := roundTrip(t, first, "1", 10*time.Second); got != "1" {
		t.Fatalf("first flow: %q", got)
	}
	second := udpFrom(t, c, dst) // another source port: another flow
	if got := roundTrip(t, second, "2", 200*time.Millisecond); got != "" {
		t.Fatalf("second flow beyond the limit answered %q", got)
	}
	waitStats(t, h.fwd, "the limit", func(s Stats) bool { return s.UDPLimited >= 1 })
	// The first flow idles out and frees its slot.
	waitStats(t, h.fwd, "the idle close", func(s Stats) bool { return s.UDPIdle == 1 && s.UDPActive == 0 })
	if got := roundTrip(t, second, "3", 10*time.Second); got != "3" {
		t.Fatalf("second flow after the first idled out: %q", got)
	}
	waitStats(t, h.fwd, "the new flow", func(s Stats) bool { return s.UDPOpened == 2 })
}

func TestDNSForwardedToResolver(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	resolver := fakeResolver(t, netip.MustParseAddr("192.0.2.53"))
	dead := deadUDPPort(t)
	h := newHub(t, Config{Resolvers: []netip.AddrPort{dead, resolver}})
	c := h.addClient(t, "c1", "10.9.0.2/32", "fd09::2/128")

	for _, server := range []string{"10.9.0.1:53", "[fd09::1]:53"} {
		conn := udpFrom(t, c, netip.MustParseAddrPort(server))
		resp := roundTrip(t, conn, string(dnsQuery(t, 0x1234, "example.org.")), 15*time.Second)
		if a := dnsAnswer(t, []byte(resp), 0x1234); a != "192.0.2.53" {
			t.Fatalf("%s: answer %q, want 192.0.2.53 (the first, dead resolver is skipped)", server, a)
		}
	}
	// DNS over TCP reaches the resolver's TCP port.
	ctx := testContext(t, 30*time.Second)
	conn := dialTCP(t, ctx, c.Net(), netip.MustParseAddrPort("10.9.0.1:53"))
	q := dnsQuery(t, 0x4321, "example.net.")
	if _, err := conn.Write(append([]byte{byte(len(q) >> 8), byte(len(q))}, q...)); err != nil {
		t.Fatal(err)
	}
	resp := readTCPDNS(t, conn)
	if a := dnsAnswer(t, resp, 0x4321); a != "192.0.2.53" {
		t.Fatalf("DNS over TCP: answer %q", a)
	}
	s := waitStats(t, h.fwd, "the queries", func(s Stats) bool { return s.DNSQueries >= 3 })
	if s.DNSFailed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDNSFromResolvConf(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	resolver := fakeResolver(t, netip.MustParseAddr("192.0.2.54"))
	// resolv.conf has no ports: Dial's redirect points port 53 at the fake.
	rd := newRedirect()
	rd.add("192.0.2.250:53", resolver)
	conf := t.TempDir() + "/resolv.conf"
	writeFile(t, conf, "# generated\nsearch example\nnameserver 192.0.2.250\noptions ndots:1\n")
	h := newHub(t, Config{Dial: rd.dial, ResolvConf: conf})
	c := h.addClient(t, "c1", "10.9.0.2/32")
	conn := udpFrom(t, c, netip.MustParseAddrPort("10.9.0.1:53"))
	resp := roundTrip(t, conn, string(dnsQuery(t, 7, "example.com.")), 15*time.Second)
	if a := dnsAnswer(t, []byte(resp), 7); a != "192.0.2.54" {
		t.Fatalf("answer %q", a)
	}
}

func TestDNSFailures(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	t.Run("no answer", func(t *testing.T) {
		h := newHub(t, Config{Resolvers: []netip.AddrPort{deadUDPPort(t)}})
		c := h.addClient(t, "c1", "10.9.0.2/32")
		conn := udpFrom(t, c, netip.MustParseAddrPort("10.9.0.1:53"))
		if got := roundTrip(t, conn, string(dnsQuery(t, 9, "example.com.")), 3*time.Second); got != "" {
			t.Fatalf("got %q from a dead resolver", got)
		}
		waitStats(t, h.fwd, "the failure", func(s Stats) bool { return s.DNSFailed == 1 })
	})
	t.Run("forwarding off", func(t *testing.T) {
		h := newHub(t, Config{Resolvers: []netip.AddrPort{}})
		c := h.addClient(t, "c1", "10.9.0.2/32")
		conn := udpFrom(t, c, netip.MustParseAddrPort("10.9.0.1:53"))
		if got := roundTrip(t, conn, string(dnsQuery(t, 9, "example.com.")), 500*time.Millisecond); got != "" {
			t.Fatalf("got %q with DNS forwarding off", got)
		}
		if s := h.fwd.Stats(); s.DNSQueries != 0 || s.UDPOpened != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestParseResolvConf(t *testing.T) {
	got := parseResolvConf([]byte("nameserver 10.0.0.1\n  nameserver   fe80::1%eth0 \nnameserver bogus\n#nameserver 1.1.1.1\n" +
		"nameserver ::ffff:10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n"))
	want := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.1:53"), netip.MustParseAddrPort("[fe80::1%eth0]:53"), netip.MustParseAddrPort("10.0.0.2:53"),
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func FuzzParseResolvConf(f *testing.F) {
	f.Add([]byte("nameserver 10.0.0.1\nnameserver ::1\n"))
	f.Add([]byte("nameserver\nnameserver fe80::1%x y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := parseResolvConf(data)
		if len(got) > maxNameservers {
			t.Fatalf("%d nameservers", len(got))
		}
		for _, s := range got {
			if !s.IsValid() || s.Port() != 53 || s.Addr().Is4In6() {
				t.Fatalf("bad nameserver %v", s)
			}
		}
	})
}

func TestResolvConfReread(t *testing.T) {
	path := t.TempDir() + "/resolv.conf"
	r := newResolvConf(path, nil)
	if s := r.servers(); len(s) != 0 {
		t.Fatalf("missing file: %v", s)
	}
	writeFile(t, path, "nameserver 10.0.0.1\n")
	r.checked = time.Time{} // skip the recheck interval
	if s := r.servers(); len(s) != 1 || s[0].Addr() != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("after writing: %v", s)
	}
	writeFile(t, path, "nameserver 10.0.0.22\n")
	if s := r.servers(); s[0].Addr() != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("reread within the recheck interval: %v", s)
	}
	r.checked = time.Time{}
	if s := r.servers(); s[0].Addr() != netip.MustParseAddr("10.0.0.22") {
		t.Fatalf("not reread after a change: %v", s)
	}
}
