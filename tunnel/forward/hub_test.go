package forward

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/tunnel/egress"
)

// TestHubRouting has two peers of one hub reach each other, over IPv4 and
// IPv6, through the hub: the packets go back out through WireGuard.
func TestHubRouting(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	ctx := testContext(t, time.Minute)
	h := newHub(t, Config{})
	c1 := h.addClient(t, "c1", "10.9.0.2/32", "fd09::2/128")
	c2 := h.addClient(t, "c2", "10.9.0.3/32", "fd09::3/128")

	for _, dst := range []string{"10.9.0.3:7000", "[fd09::3]:7000"} {
		ln, err := c2.Net().ListenTCPAddrPort(netip.MustParseAddrPort(dst))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer ln.Close()
			s, err := ln.Accept()
			if err != nil {
				return
			}
			defer s.Close()
			_, _ = io.Copy(s, s)
		}()
		conn := dialTCP(t, ctx, c1.Net(), netip.MustParseAddrPort(dst))
		if _, err := conn.Write([]byte("peer to peer")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 12)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "peer to peer" {
			t.Fatalf("%s: read %q, %v", dst, buf, err)
		}
	}
	// Ping from peer to peer: the hub routes ICMP too.
	if !h.echoOK(t, c1, netip.MustParseAddr("10.9.0.3"), 5*time.Second) {
		t.Fatal("no echo reply from the other peer")
	}
	s := h.fwd.Stats()
	if s.HubPackets == 0 || s.TCPOpened != 0 || s.HubRefused != 0 {
		t.Fatalf("stats %+v: want hub packets and nothing forwarded to the host", s)
	}
}

func TestHubRoutingPolicy(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	ctx := testContext(t, time.Minute)
	deny, _ := egress.ParseRules([]string{"10.9.0.3/32:7001"})
	h := newHub(t, Config{Policy: egress.New(egress.Config{Deny: deny})})
	c1 := h.addClient(t, "c1", "10.9.0.2/32")
	c2 := h.addClient(t, "c2", "10.9.0.3/32")
	for _, port := range []string{"7000", "7001"} {
		ln, err := c2.Net().ListenTCPAddrPort(netip.MustParseAddrPort("10.9.0.3:" + port))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
	}
	dialTCP(t, ctx, c1.Net(), netip.MustParseAddrPort("10.9.0.3:7000")).Close()
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if conn, err := c1.Net().DialContextTCPAddrPort(dctx, netip.MustParseAddrPort("10.9.0.3:7001")); err == nil {
		conn.Close()
		t.Fatal("a denied peer port was reached through the hub")
	}
	waitStats(t, h.fwd, "the refusal", func(s Stats) bool { return s.HubRefused >= 1 })
	if !strings.Contains(h.log.String(), "packet between peers refused") {
		t.Fatal("hub refusal not logged")
	}
}

// TestHubUnknownPeer sends to an address of the subnet no peer has: the
// hub passes it to WireGuard, which drops it; nothing is forwarded to the
// host network.
func TestHubUnknownPeer(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	ctx := testContext(t, time.Minute)
	rd := newRedirect()
	h := newHub(t, Config{Dial: rd.dial})
	c1 := h.addClient(t, "c1", "10.9.0.2/32")
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if conn, err := c1.Net().DialContextTCPAddrPort(dctx, netip.MustParseAddrPort("10.9.0.77:80")); err == nil {
		conn.Close()
		t.Fatal("connected to an address no peer has")
	}
	if len(rd.dials()) != 0 || h.fwd.Stats().TCPOpened != 0 {
		t.Fatalf("the hub forwarded a subnet address to the host: %v", rd.dials())
	}
}
