package forward

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// ip4 builds an IPv4 packet with a valid header checksum.
func ip4(src, dst string, proto uint8, ttl uint8, payload []byte) []byte {
	p := make([]byte, 20+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8], p[9] = ttl, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20], 0))
	copy(p[20:], payload)
	return p
}

func ip6(src, dst string, next uint8, hop uint8, payload []byte) []byte {
	p := make([]byte, 40+len(payload))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(len(payload)))
	p[6], p[7] = next, hop
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	copy(p[40:], payload)
	return p
}

func ports(src, dst uint16) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b, src)
	binary.BigEndian.PutUint16(b[2:], dst)
	return b
}

func TestParseIP(t *testing.T) {
	echo4, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 1, Seq: 2, Data: []byte("x")}}).Marshal(nil)
	echo6, _ := (&icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &icmp.Echo{ID: 1, Seq: 2}}).Marshal(nil)
	frag := ip4("10.0.0.2", "1.1.1.1", protoUDP, 64, ports(1, 53))
	frag[6] = 0x20 // more fragments, offset 0
	laterFrag := ip4("10.0.0.2", "1.1.1.1", protoUDP, 64, ports(1, 53))
	laterFrag[7] = 0x10 // offset 16*8
	frag6 := ip6("fd00::2", "2001:db8::1", protoFrag6, 64, append([]byte{protoTCP, 0, 0, 1, 0, 0, 0, 9}, ports(5, 443)...))
	tests := []struct {
		name     string
		pkt      []byte
		ok       bool
		proto    uint8
		port     uint16
		hasPort  bool
		fragment bool
		echo     bool
	}{
		{"tcp4", ip4("10.0.0.2", "1.1.1.1", protoTCP, 64, ports(1234, 443)), true, protoTCP, 443, true, false, false},
		{"udp6", ip6("fd00::2", "2001:db8::1", protoUDP, 64, ports(1, 53)), true, protoUDP, 53, true, false, false},
		{"echo4", ip4("10.0.0.2", "1.1.1.1", protoICMP, 64, echo4), true, protoICMP, 0, false, false, true},
		{"echo6", ip6("fd00::2", "2001:db8::1", protoICMPv6, 64, echo6), true, protoICMPv6, 0, false, false, true},
		{"first fragment", frag, true, protoUDP, 53, true, true, false},
		{"later fragment", laterFrag, true, protoUDP, 0, false, true, false},
		{"ipv6 first fragment", frag6, true, protoTCP, 443, true, true, false},
		{"empty", nil, false, 0, 0, false, false, false},
		{"short ipv4", ip4("10.0.0.2", "1.1.1.1", protoTCP, 64, nil)[:19], false, 0, 0, false, false, false},
		{"bad ihl", append([]byte{0x4f}, make([]byte, 30)...), false, 0, 0, false, false, false},
		{"short ipv6", make([]byte, 39), false, 0, 0, false, false, false},
		{"version 5", append([]byte{0x50}, make([]byte, 40)...), false, 0, 0, false, false, false},
		{"truncated tcp", ip4("10.0.0.2", "1.1.1.1", protoTCP, 64, []byte{1, 2}), true, protoTCP, 0, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := parseIP(tt.pkt)
			if ok != tt.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			testenv.Equal(t, "proto", h.proto, tt.proto)
			testenv.Equal(t, "dstPort", h.dstPort, tt.port)
			testenv.Equal(t, "hasPort", h.hasPort, tt.hasPort)
			testenv.Equal(t, "fragment", h.fragment, tt.fragment)
			testenv.Equal(t, "isEchoRequest", h.isEchoRequest(tt.pkt), tt.echo)
		})
	}
}

func TestRoute(t *testing.T) {
	f, err := New(Config{Policy: allowAll, Addresses: []netip.Prefix{
		netip.MustParsePrefix("10.9.0.1/24"), netip.MustParsePrefix("fd09::1/64"), netip.MustParsePrefix("10.10.0.1/32"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	echo4, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 1, Seq: 2}}).Marshal(nil)
	reply4, _ := (&icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: &icmp.Echo{ID: 1, Seq: 2}}).Marshal(nil)
	tests := []struct {
		name string
		pkt  []byte
		want route
	}{
		{"tcp to own address", ip4("10.9.0.2", "10.9.0.1", protoTCP, 64, ports(1, 22)), routeLocal},
		{"dns to own address", ip4("10.9.0.2", "10.9.0.1", protoUDP, 64, ports(1, 53)), routeStack},
		{"dns over tcp to own address", ip4("10.9.0.2", "10.9.0.1", protoTCP, 64, ports(1, 53)), routeStack},
		{"dns to own ipv6", ip6("fd09::2", "fd09::1", protoUDP, 64, ports(1, 53)), routeStack},
		{"echo to own address", ip4("10.9.0.2", "10.9.0.1", protoICMP, 64, echo4), routeLocal},
		{"own /32 address", ip4("10.9.0.2", "10.10.0.1", protoTCP, 64, ports(1, 80)), routeLocal},
		{"another peer", ip4("10.9.0.2", "10.9.0.3", protoTCP, 64, ports(1, 80)), routeHub},
		{"another peer, any protocol", ip4("10.9.0.2", "10.9.0.3", 47, 64, nil), routeHub},
		{"another ipv6 peer", ip6("fd09::2", "fd09::3", protoUDP, 64, ports(1, 80)), routeHub},
		{"outside tcp", ip4("10.9.0.2", "1.1.1.1", protoTCP, 64, ports(1, 443)), routeStack},
		{"outside udp", ip4("10.9.0.2", "1.1.1.1", protoUDP, 64, ports(1, 443)), routeStack},
		{"loopback goes to the policy", ip4("10.9.0.2", "127.0.0.1", protoTCP, 64, ports(1, 22)), routeStack},
		{"outside echo", ip4("10.9.0.2", "1.1.1.1", protoICMP, 64, echo4), routePing},
		{"outside echo reply", ip4("10.9.0.2", "1.1.1.1", protoICMP, 64, reply4), routeDrop},
		{"outside gre", ip4("10.9.0.2", "1.1.1.1", 47, 64, nil), routeDrop},
		{"multicast", ip4("10.9.0.2", "224.0.0.251", protoUDP, 64, ports(5353, 5353)), routeDrop},
		{"broadcast", ip4("10.9.0.2", "255.255.255.255", protoUDP, 64, ports(68, 67)), routeDrop},
		{"link-local", ip6("fd09::2", "fe80::1", protoUDP, 64, ports(1, 2)), routeDrop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := parseIP(tt.pkt)
			if !ok {
				t.Fatal("parse failed")
			}
			if got := f.route(tt.pkt, h); got != tt.want {
				t.Fatalf("route = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDecrementTTL(t *testing.T) {
	p := ip4("10.9.0.2", "10.9.0.3", protoTCP, 64, ports(1, 2))
	for ttl := 64; ttl > 1; ttl-- {
		if !decrementTTL(p) {
			t.Fatalf("refused at TTL %d", ttl)
		}
		if p[8] != byte(ttl-1) || checksum(p[:20], 0) != 0 {
			t.Fatalf("TTL %d, header checksum invalid after decrement", p[8])
		}
	}
	if decrementTTL(p) {
		t.Fatal("forwarded a packet with TTL 1")
	}
	q := ip6("fd09::2", "fd09::3", protoUDP, 2, ports(1, 2))
	if !decrementTTL(q) || q[7] != 1 || decrementTTL(q) {
		t.Fatalf("IPv6 hop limit handling: %d", q[7])
	}
}

func TestEchoReply(t *testing.T) {
	req4, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0x1234, Seq: 9, Data: []byte("abcdefg")}}).Marshal(nil)
	p := ip4("10.9.0.2", "192.0.2.1", protoICMP, 64, req4)
	h, _ := parseIP(p)
	r := echoReply(p, h)
	rh, ok := parseIP(r)
	if !ok || rh.src != h.dst || rh.dst != h.src || checksum(r[:20], 0) != 0 || checksum(r[20:], 0) != 0 {
		t.Fatalf("bad IPv4 reply % x", r)
	}
	m, err := icmp.ParseMessage(1, r[20:])
	if e, ok := m.Body.(*icmp.Echo); err != nil || m.Type != ipv4.ICMPTypeEchoReply || !ok || e.ID != 0x1234 || e.Seq != 9 || string(e.Data) != "abcdefg" {
		t.Fatalf("reply %+v, %v", m, err)
	}

	req6, _ := (&icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &icmp.Echo{ID: 7, Seq: 8, Data: []byte("xyz")}}).Marshal(nil)
	q := ip6("fd09::2", "2001:db8::1", protoICMPv6, 64, req6)
	h6, _ := parseIP(q)
	r6 := echoReply(q, h6)
	// x/net/icmp computes the checksum with the pseudo-header on its own.
	want, _ := (&icmp.Message{Type: ipv6.ICMPTypeEchoReply, Body: &icmp.Echo{ID: 7, Seq: 8, Data: []byte("xyz")}}).
		Marshal(icmp.IPv6PseudoHeader(h6.dst.AsSlice(), h6.src.AsSlice()))
	if string(r6[40:]) != string(want) {
		t.Fatalf("ICMPv6 reply % x, want % x", r6[40:], want)
	}
	m6, err := icmp.ParseMessage(58, r6[40:])
	if e, ok := m6.Body.(*icmp.Echo); err != nil || m6.Type != ipv6.ICMPTypeEchoReply || !ok || e.ID != 7 || e.Seq != 8 || string(e.Data) != "xyz" {
		t.Fatalf("reply %+v, %v", m6, err)
	}
}

// FuzzRoute feeds arbitrary packets from a peer through the parser, the
// router and, for echo requests, the reply builder: nothing may panic,
// and a reply is a well-formed packet back to the sender.
func FuzzRoute(f *testing.F) {
	echo4, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 1, Seq: 2, Data: []byte("x")}}).Marshal(nil)
	f.Add(ip4("10.9.0.2", "1.1.1.1", protoICMP, 64, echo4))
	f.Add(ip4("10.9.0.2", "10.9.0.1", protoUDP, 64, ports(1, 53)))
	f.Add(ip6("fd09::2", "2001:db8::1", protoFrag6, 64, []byte{protoUDP, 0, 0, 0, 0, 0, 0, 1}))
	f.Add([]byte{0x45})
	fw, err := New(Config{Policy: allowAll, Addresses: []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24"), netip.MustParsePrefix("fd09::1/64")}})
	if err != nil {
		f.Fatal(err)
	}
	defer fw.Close()
	f.Fuzz(func(t *testing.T, pkt []byte) {
		h, ok := parseIP(pkt)
		if !ok {
			return
		}
		r := fw.route(pkt, h)
		if h.hasPort && h.l4+4 > len(pkt) {
			t.Fatal("port read past the packet")
		}
		if r == routeHub {
			c := append([]byte(nil), pkt...)
			decrementTTL(c)
		}
		if r == routePing {
			reply := echoReply(pkt, h)
			rh, ok := parseIP(reply)
			if !ok || rh.src != h.dst || rh.dst != h.src {
				t.Fatalf("reply % x does not go back to the sender", reply)
			}
		}
	})
}
