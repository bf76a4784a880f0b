package forward

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	tcpipsum "gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// transport builds a TCP segment (flags ACK) or UDP datagram from src to
// dst (IPv4 or IPv6 alike) with a valid checksum, and wraps it in IP.
func transport(proto uint8, src, dst string, seq uint32, payload []byte) []byte {
	var seg []byte
	if proto == protoTCP {
		seg = make([]byte, 20+len(payload))
		binary.BigEndian.PutUint16(seg[0:], 40000)
		binary.BigEndian.PutUint16(seg[2:], 5201)
		binary.BigEndian.PutUint32(seg[4:], seq)
		binary.BigEndian.PutUint32(seg[8:], 1)
		seg[12], seg[13] = 5<<4, 0x10
		binary.BigEndian.PutUint16(seg[14:], 65535)
		copy(seg[20:], payload)
	} else {
		seg = make([]byte, 8+len(payload))
		binary.BigEndian.PutUint16(seg[0:], 40000)
		binary.BigEndian.PutUint16(seg[2:], 53)
		binary.BigEndian.PutUint16(seg[4:], uint16(len(seg)))
		copy(seg[8:], payload)
	}
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	sum := header.PseudoHeaderChecksum(tcpip.TransportProtocolNumber(proto),
		tcpip.AddrFromSlice(s.AsSlice()), tcpip.AddrFromSlice(d.AsSlice()), uint16(len(seg)))
	off := 16 // TCP's checksum field
	if proto == protoUDP {
		off = 6
	}
	binary.BigEndian.PutUint16(seg[off:], ^tcpipsum.Checksum(seg, sum))
	if s.Is4() {
		return ip4(src, dst, proto, 64, seg)
	}
	return ip6(src, dst, proto, 64, seg)
}

func TestChecksumsValid(t *testing.T) {
	flip := func(p []byte, i int) []byte { p = bytes.Clone(p); p[i] ^= 0x40; return p }
	tcp4 := transport(protoTCP, "10.9.0.2", "192.0.2.1", 1, []byte("hello"))
	tcp6 := transport(protoTCP, "fd09::2", "2001:db8::1", 1, []byte("hello"))
	udp4 := transport(protoUDP, "10.9.0.2", "192.0.2.1", 0, []byte("query"))
	udp6 := transport(protoUDP, "fd09::2", "2001:db8::1", 0, []byte("query"))
	udp4NoSum := bytes.Clone(udp4)
	udp4NoSum[20+6], udp4NoSum[20+7] = 0, 0
	frag := flip(tcp4, len(tcp4)-1)
	frag[6] = 0x20 // more fragments: the transport checksum cannot be checked here
	frag[10], frag[11] = 0, 0
	binary.BigEndian.PutUint16(frag[10:], checksum(frag[:20], 0))
	for _, tc := range []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"TCP over IPv4", tcp4, true},
		{"TCP over IPv4, payload corrupted", flip(tcp4, len(tcp4)-1), false},
		{"TCP over IPv4, IP header corrupted", flip(tcp4, 8), false},
		{"TCP over IPv6", tcp6, true},
		{"TCP over IPv6, payload corrupted", flip(tcp6, len(tcp6)-1), false},
		{"UDP over IPv4", udp4, true},
		{"UDP over IPv4, payload corrupted", flip(udp4, len(udp4)-1), false},
		{"UDP over IPv4 without a checksum", udp4NoSum, true},
		{"UDP over IPv6", udp6, true},
		{"UDP over IPv6, payload corrupted", flip(udp6, len(udp6)-1), false},
		{"IPv4 fragment, transport not checked", frag, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := parseIP(tc.pkt)
			if !ok {
				t.Fatal("test packet does not parse")
			}
			testenv.Equal(t, "checksumsValid", checksumsValid(tc.pkt, h), tc.want)
		})
	}
}

// recordingDispatcher is the network layer under a linkEndpoint in a
// test: it keeps a copy of every packet delivered.
type recordingDispatcher struct{ pkts [][]byte }

func (d *recordingDispatcher) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	d.pkts = append(d.pkts, pkt.Data().AsRange().ToSlice())
}

func (d *recordingDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// TestInboundMergesSegments: consecutive segments of a TCP flow in one
// batch reach the stack as one segment with all their payload (GRO); a
// datagram passes as it is, a segment with a bad checksum not at all.
func TestInboundMergesSegments(t *testing.T) {
	l := newLinkEndpoint(16, 1420)
	if l.Capabilities()&stack.CapabilityRXChecksumOffload == 0 {
		t.Fatal("the link endpoint does not tell the stack that checksums are checked (GRO needs it)")
	}
	d := &recordingDispatcher{}
	l.Attach(d)

	const mss = 1000
	payload := make([]byte, 4*mss)
	for i := range payload {
		payload[i] = byte(i)
	}
	in := l.batch()
	for i := range 4 {
		seg := transport(protoTCP, "10.9.0.2", "192.0.2.1", uint32(1+i*mss), payload[i*mss:(i+1)*mss])
		h, _ := parseIP(seg)
		if !in.add(seg, h) {
			t.Fatalf("segment %d refused", i)
		}
	}
	bad := transport(protoTCP, "10.9.0.3", "192.0.2.1", 1, payload[:mss])
	bad[len(bad)-1] ^= 1
	h, _ := parseIP(bad)
	if in.add(bad, h) {
		t.Error("a segment with a bad checksum was taken")
	}
	udp := transport(protoUDP, "10.9.0.2", "192.0.2.1", 0, []byte("query"))
	h, _ = parseIP(udp)
	if !in.add(udp, h) {
		t.Error("a datagram was refused")
	}
	in.flush()

	if len(d.pkts) != 2 {
		t.Fatalf("the stack got %d packets, want 2 (the merged segment, the datagram)", len(d.pkts))
	}
	var tcp []byte
	for _, p := range d.pkts {
		if p[9] == protoTCP {
			tcp = p
		} else if !bytes.Equal(p, udp) {
			t.Errorf("datagram changed on its way: %x, want %x", p, udp)
		}
	}
	if tcp == nil {
		t.Fatal("no TCP segment reached the stack")
	}
	testenv.Equal(t, "merged segment's IP total length", int(binary.BigEndian.Uint16(tcp[2:])), len(tcp))
	if !bytes.Equal(tcp[40:], payload) {
		t.Errorf("merged payload is %d bytes and differs from the %d sent", len(tcp)-40, len(payload))
	}
}

// TestInboundFlushDeliversEveryFlow: segments of many flows held by the
// GRO in one batch (more flows than it has buckets, so buckets hold
// several) all reach the stack when the batch ends, none later.
func TestInboundFlushDeliversEveryFlow(t *testing.T) {
	l := newLinkEndpoint(16, 1420)
	d := &recordingDispatcher{}
	l.Attach(d)
	const flows = 24
	in := l.batch()
	for i := range flows {
		seg := transport(protoTCP, fmt.Sprintf("10.9.0.%d", 2+i), "192.0.2.1", 1, make([]byte, 1000))
		h, _ := parseIP(seg)
		if !in.add(seg, h) {
			t.Fatalf("flow %d refused", i)
		}
	}
	if len(d.pkts) == flows {
		t.Fatal("every segment reached the stack before the flush: the GRO held none, the test proves nothing")
	}
	in.flush()
	testenv.Equal(t, "segments delivered after the flush", len(d.pkts), flows)
}

// TestLinkEndpointWaitsForRoomUntilClosed: a sender waits while the queue
// to WireGuard is full (no drop), takes the room a read makes, and gives
// up when the endpoint closes.
func TestLinkEndpointWaitsForRoomUntilClosed(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	l := newLinkEndpoint(2, 1420)
	one := func() stack.PacketBufferList {
		var pkts stack.PacketBufferList
		pkts.PushBack(stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData([]byte("x"))}))
		return pkts
	}
	for i := range 2 {
		if n, err := l.WritePackets(one()); n != 1 || err != nil {
			t.Fatalf("write %d into an empty queue: %d, %v", i, n, err)
		}
	}
	type result struct {
		n   int
		err tcpip.Error
	}
	write := func() chan result {
		done := make(chan result, 1)
		go func() { n, err := l.WritePackets(one()); done <- result{n, err} }()
		return done
	}
	done := write()
	select {
	case r := <-done:
		t.Fatalf("a write into a full queue returned at once: %d, %v", r.n, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	(<-l.out).DecRef() // WireGuard reads one
	if r := <-done; r.n != 1 || r.err != nil {
		t.Fatalf("the waiting write after a read: %d, %v", r.n, r.err)
	}
	done = write()
	l.Close()
	select {
	case r := <-done:
		if r.n != 0 || r.err == nil {
			t.Fatalf("a write waiting at Close: %d, %v; want 0 and an error", r.n, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write waiting for room did not give up at Close")
	}
	if n, err := l.WritePackets(one()); n != 0 || err == nil {
		t.Fatalf("a write after Close: %d, %v", n, err)
	}
}
