package forward

import (
	"bytes"
	"crypto/rand"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// gsoSegment builds what the forwarding stack hands its NIC for host GSO:
// one TCP segment of len(payload) bytes from src to dst, whose checksum is
// left for the NIC to finish (here a wrong value, which the segmenter
// must overwrite).
func gsoSegment(src, dst string, seq uint32, id uint16, flags header.TCPFlags, mss int, payload []byte) *stack.PacketBuffer {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: header.IPv6MinimumSize + header.TCPMinimumSize,
		Payload:            buffer.MakeWithData(payload),
	})
	tcp := header.TCP(pkb.TransportHeader().Push(header.TCPMinimumSize))
	tcp.Encode(&header.TCPFields{
		SrcPort: 5201, DstPort: 40000, SeqNum: seq, AckNum: 7,
		DataOffset: header.TCPMinimumSize, Flags: flags, WindowSize: 512, Checksum: 0xbeef,
	})
	gso := stack.GSO{NeedsCsum: true, MSS: uint16(mss), CsumOffset: header.TCPChecksumOffset}
	if s.Is4() {
		ip := header.IPv4(pkb.NetworkHeader().Push(header.IPv4MinimumSize))
		ip.Encode(&header.IPv4Fields{
			TotalLength: uint16(header.IPv4MinimumSize + header.TCPMinimumSize + len(payload)),
			ID:          id, TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
			SrcAddr: tcpip.AddrFromSlice(s.AsSlice()), DstAddr: tcpip.AddrFromSlice(d.AsSlice()),
		})
		ip.SetChecksum(^ip.CalculateChecksum())
		gso.Type, gso.L3HdrLen = stack.GSOTCPv4, header.IPv4MinimumSize
	} else {
		ip := header.IPv6(pkb.NetworkHeader().Push(header.IPv6MinimumSize))
		ip.Encode(&header.IPv6Fields{
			PayloadLength: uint16(header.TCPMinimumSize + len(payload)), TransportProtocol: header.TCPProtocolNumber,
			HopLimit: 64, SrcAddr: tcpip.AddrFromSlice(s.AsSlice()), DstAddr: tcpip.AddrFromSlice(d.AsSlice()),
		})
		gso.Type, gso.L3HdrLen = stack.GSOTCPv6, header.IPv6MinimumSize
	}
	pkb.GSOOptions = gso
	return pkb
}

func TestSegmenterCutsLikeTSO(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst string
		size     int
		mss      int
		flags    header.TCPFlags
		bufs     int // buffers per read: fewer than the packets makes the segmenter resume
	}{
		{"IPv4, 64 KiB in packets of 1,380", "192.0.2.1", "10.9.0.2", 65535 - 40 - 1, 1380, header.TCPFlagAck | header.TCPFlagPsh, 128},
		{"IPv4, resumed over reads of 5 buffers", "192.0.2.1", "10.9.0.2", 20000, 1000, header.TCPFlagAck | header.TCPFlagPsh | header.TCPFlagFin | header.TCPFlagCwr, 5},
		{"IPv4, one packet: only its checksum finished", "192.0.2.1", "10.9.0.2", 700, 1380, header.TCPFlagAck | header.TCPFlagPsh, 128},
		{"IPv4, a pure ACK", "192.0.2.1", "10.9.0.2", 0, 1380, header.TCPFlagAck, 128},
		{"IPv6, in packets of 1,360", "2001:db8::1", "fd09::2", 30000, 1360, header.TCPFlagAck | header.TCPFlagFin, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := make([]byte, tc.size)
			_, _ = rand.Read(payload)
			const seq0, id0 = 0xfffff000, 0xfff0 // both wrap while cutting
			pkb := gsoSegment(tc.src, tc.dst, seq0, id0, tc.flags, tc.mss, payload)
			var s segmenter
			s.load(pkb)
			var got []byte
			var pkts [][]byte
			for reads := 0; s.busy(); reads++ {
				if reads > 1000 {
					t.Fatal("segmenter never finished")
				}
				for range tc.bufs {
					if !s.busy() {
						break
					}
					buf := make([]byte, 2000)
					n := s.next(buf)
					if n == 0 {
						t.Fatal("a packet did not fit a 2,000-byte buffer")
					}
					pkts = append(pkts, buf[:n])
				}
			}
			want := max(1, (tc.size+tc.mss-1)/tc.mss)
			if len(pkts) != want {
				t.Fatalf("%d packets, want %d", len(pkts), want)
			}
			for i, p := range pkts {
				h, ok := parseIP(p)
				if !ok || h.proto != protoTCP {
					t.Fatalf("packet %d does not parse as TCP over IP: %x", i, p[:40])
				}
				if !checksumsValid(p, h) {
					t.Fatalf("packet %d: a checksum is wrong", i)
				}
				tcp := header.TCP(p[h.l4:])
				data := p[h.l4+int(tcp.DataOffset()):]
				if len(data) > tc.mss {
					t.Fatalf("packet %d carries %d bytes, more than the MSS %d", i, len(data), tc.mss)
				}
				if tcp.SequenceNumber() != seq0+uint32(len(got)) {
					t.Fatalf("packet %d: sequence number %d, want %d", i, tcp.SequenceNumber(), seq0+uint32(len(got)))
				}
				wantFlags := tc.flags
				if i > 0 {
					wantFlags &^= header.TCPFlagCwr
				}
				if i < len(pkts)-1 {
					wantFlags &^= header.TCPFlagFin | header.TCPFlagPsh
				}
				if tcp.Flags() != wantFlags {
					t.Fatalf("packet %d: flags %v, want %v", i, tcp.Flags(), wantFlags)
				}
				if h.dst.Is4() {
					ip := header.IPv4(p)
					if int(ip.TotalLength()) != len(p) || ip.ID() != uint16(id0+i) {
						t.Fatalf("packet %d: IPv4 length %d (want %d), ID %#x (want %#x)", i, ip.TotalLength(), len(p), ip.ID(), uint16(id0+i))
					}
				} else if int(header.IPv6(p).PayloadLength()) != len(p)-header.IPv6MinimumSize {
					t.Fatalf("packet %d: IPv6 payload length %d, want %d", i, header.IPv6(p).PayloadLength(), len(p)-header.IPv6MinimumSize)
				}
				got = append(got, data...)
			}
			if !bytes.Equal(got, payload) {
				t.Fatal("the packets' payloads are not the segment's")
			}
		})
	}
}

func TestSegmenterCopiesOtherPackets(t *testing.T) {
	udp := transport(protoUDP, "192.0.2.1", "10.9.0.2", 0, []byte("answer"))
	pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(bytes.Clone(udp))})
	var s segmenter
	s.load(pkb)
	buf := make([]byte, 2000)
	n := s.next(buf)
	if s.busy() || !bytes.Equal(buf[:n], udp) {
		t.Fatalf("got %x (busy %v), want %x", buf[:n], s.busy(), udp)
	}

	pkb = gsoSegment("192.0.2.1", "10.9.0.2", 1, 1, header.TCPFlagAck, 1000, make([]byte, 3000))
	s.load(pkb)
	if n := s.next(make([]byte, 100)); n != 0 || s.busy() {
		t.Fatalf("a packet larger than its buffer: wrote %d bytes, busy %v; want it dropped", n, s.busy())
	}
}
