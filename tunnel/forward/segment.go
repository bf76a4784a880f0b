package forward

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	tcpipsum "gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// segmenter cuts what the forwarding stack sends into the packets
// WireGuard encrypts, one packet per buffer, as a NIC with TCP
// segmentation offload would: a TCP segment the stack built for host GSO
// (up to 64 KiB, its checksum only the pseudo-header's) becomes packets of
// at most its MSS of payload, each with its own IP length, IPv4 ID and
// header checksum, sequence number and TCP checksum; FIN and PSH stay on
// the last packet, CWR on the first. Every other packet is copied as it
// is. Bytes are copied once, from the stack's buffer to WireGuard's.
//
// A segment may need more buffers than one Read has: the segmenter holds
// it and goes on with the next Read. It is not safe for concurrent use
// (WireGuard reads from one goroutine).
type segmenter struct {
	pkt   *stack.PacketBuffer // being cut, or nil
	views [][]byte            // pkt's bytes
	gso   bool                // pkt needs cutting (or at least its TCP checksum)
	v6    bool
	ipLen int // IP header length
	hdr   int // IP and TCP header length
	mss   int
	total int // payload bytes
	off   int // payload bytes already out
	id    uint16
	seq   uint32
	flags header.TCPFlags
}

// busy reports whether a packet is still being cut.
func (s *segmenter) busy() bool { return s.pkt != nil }

// load takes pkt (and its reference: the segmenter releases it). A
// packet it cannot parse as TCP over IP is copied as it is.
func (s *segmenter) load(pkt *stack.PacketBuffer) {
	*s = segmenter{pkt: pkt, views: pkt.AsSlices(), total: pkt.Size()}
	g := pkt.GSOOptions
	if (g.Type != stack.GSOTCPv4 && g.Type != stack.GSOTCPv6) || !g.NeedsCsum {
		return
	}
	nh, th := pkt.NetworkHeader().Slice(), pkt.TransportHeader().Slice()
	if len(nh) == 0 || len(th) < header.TCPMinimumSize {
		return
	}
	s.gso, s.v6 = true, g.Type == stack.GSOTCPv6
	s.ipLen, s.hdr = len(nh), len(nh)+len(th)
	s.total -= s.hdr
	s.mss = int(g.MSS)
	if s.mss <= 0 {
		s.mss = s.total
	}
	if !s.v6 {
		s.id = header.IPv4(nh).ID()
	}
	tcp := header.TCP(th)
	s.seq, s.flags = tcp.SequenceNumber(), tcp.Flags()
}

// next writes the next packet into dst and returns its length, 0 if it
// does not fit (the packet is then dropped). Call it while busy.
func (s *segmenter) next(dst []byte) int {
	if !s.gso {
		n := 0
		if len(dst) >= s.total {
			n = copyViews(dst[:s.total], s.views, 0)
		}
		s.release()
		return n
	}
	size := min(s.mss, s.total-s.off)
	n := s.hdr + size
	if len(dst) < n {
		s.release()
		return 0
	}
	pkt := dst[:n]
	copyViews(pkt[:s.hdr], s.views, 0)
	copyViews(pkt[s.hdr:], s.views, s.hdr+s.off)
	ip, tcp := pkt[:s.ipLen], header.TCP(pkt[s.ipLen:])
	var src, dstAddr tcpip.Address
	if s.v6 {
		h := header.IPv6(ip)
		h.SetPayloadLength(uint16(n - header.IPv6MinimumSize))
		src, dstAddr = h.SourceAddress(), h.DestinationAddress()
	} else {
		h := header.IPv4(ip)
		h.SetTotalLength(uint16(n))
		h.SetID(s.id)
		s.id++
		h.SetChecksum(0)
		h.SetChecksum(^h.CalculateChecksum())
		src, dstAddr = h.SourceAddress(), h.DestinationAddress()
	}
	flags := s.flags
	if s.off > 0 {
		flags &^= header.TCPFlagCwr
	}
	if s.off+size < s.total {
		flags &^= header.TCPFlagFin | header.TCPFlagPsh
	}
	tcp.SetSequenceNumber(s.seq + uint32(s.off))
	tcp.SetFlags(uint8(flags))
	tcp.SetChecksum(0)
	sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dstAddr, uint16(n-s.ipLen))
	tcp.SetChecksum(^tcpipsum.Checksum(pkt[s.ipLen:], sum))
	s.off += size
	if s.off >= s.total {
		s.release()
	}
	return n
}

// release drops the packet being cut.
func (s *segmenter) release() {
	if s.pkt != nil {
		s.pkt.DecRef()
	}
	*s = segmenter{}
}

// copyViews copies into dst the bytes of views from offset off on, as
// many as dst holds or views have, and returns how many.
func copyViews(dst []byte, views [][]byte, off int) int {
	n := 0
	for _, v := range views {
		if n == len(dst) {
			break
		}
		if off >= len(v) {
			off -= len(v)
			continue
		}
		n += copy(dst[n:], v[off:])
		off = 0
	}
	return n
}
