package forward

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/tunnel"
	"github.com/wgfleet/wgfleet/tunnel/egress"
)

// echoOK pings dst from client c, one echo request every half second,
// until c receives an echo reply from dst or wait is over, and reports
// whether one came.
func (h *hubNode) echoOK(t *testing.T, c *tunnel.Tunnel, dst netip.Addr, wait time.Duration) bool {
	t.Helper()
	pc, err := c.Net().DialPingAddr(netip.Addr{}, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tap := h.taps[c]
	before := tap.repliesFrom(dst)
	deadline := time.Now().Add(wait)
	for seq := 1; time.Now().Before(deadline); seq++ {
		req, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 77, Seq: seq, Data: []byte("wgfleet ping")}}).Marshal(nil)
		if _, err := pc.Write(req); err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end) && time.Now().Before(deadline); {
			if tap.repliesFrom(dst) > before {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return tap.repliesFrom(dst) > before
}

// TestPingForwarded pings an address of this host through the hub. Whether
// it is answered depends on the host: with unprivileged ICMP sockets
// allowed (net.ipv4.ping_group_range) it must be; without, it must not be,
// and a debug line must say why. (The namespace test in cmd/wg-agent
// exercises both by switching the sysctl.)
func TestPingForwarded(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	h := newHub(t, Config{})
	c := h.addClient(t, "c1", "10.9.0.2/32")
	dst := testenv.HostIPv4(t)
	allowed := true
	if s, err := icmp.ListenPacket("udp4", "0.0.0.0"); err != nil {
		allowed = false
		t.Logf("this host allows no unprivileged ICMP sockets (%v): expecting no answer", err)
	} else {
		s.Close()
	}
	got := h.echoOK(t, c, dst, 4*time.Second)
	if got != allowed {
		t.Fatalf("echo answered: %v, want %v; stats %+v", got, allowed, h.fwd.Stats())
	}
	if allowed {
		waitStats(t, h.fwd, "the answer", func(s Stats) bool { return s.PingAnswered >= 1 })
	} else {
		waitStats(t, h.fwd, "the failure", func(s Stats) bool { return s.PingUnanswered >= 1 && s.PingAnswered == 0 })
		if !strings.Contains(h.log.String(), "ping_group_range") {
			t.Fatal("no debug line about ping_group_range")
		}
	}
}

func TestPingRefusedByPolicy(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	deny, _ := egress.ParseRules([]string{"198.51.100.0/24"})
	h := newHub(t, Config{Policy: egress.New(egress.Config{Deny: deny})})
	c := h.addClient(t, "c1", "10.9.0.2/32")
	if h.echoOK(t, c, netip.MustParseAddr("198.51.100.1"), 500*time.Millisecond) {
		t.Fatal("a denied destination answered")
	}
	waitStats(t, h.fwd, "the refusal", func(s Stats) bool { return s.PingRefused >= 1 && s.PingAnswered+s.PingUnanswered == 0 })
}

// TestPingNotAnsweredByTheStack checks that an echo to an unreachable
// outside address is not answered by the forwarding stack itself.
func TestPingNotAnsweredByTheStack(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	h := newHub(t, Config{})
	c := h.addClient(t, "c1", "10.9.0.2/32")
	if h.echoOK(t, c, netip.MustParseAddr("192.0.2.254"), pingTimeout+time.Second) { // TEST-NET: nobody
		t.Fatal("an echo to nowhere was answered")
	}
	// The hub's own address is answered by the netstack beneath.
	if !h.echoOK(t, c, netip.MustParseAddr("10.9.0.1"), 5*time.Second) {
		t.Fatal("the hub's own address does not answer echo")
	}
}
