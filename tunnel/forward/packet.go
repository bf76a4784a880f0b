package forward

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers the forwarder looks at.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoFrag6  = 44
	protoICMPv6 = 58
)

// ICMP echo types.
const (
	icmpEchoRequest4 = 8
	icmpEchoReply4   = 0
	icmpEchoRequest6 = 128
	icmpEchoReply6   = 129
)

// ipHeader is what the forwarder needs to know of a packet to route it.
type ipHeader struct {
	src, dst netip.Addr
	proto    uint8 // the upper-layer protocol, past an IPv6 fragment header
	l4       int   // offset of the upper-layer header; 0 when not in this packet
	dstPort  uint16
	hasPort  bool // TCP or UDP with its header in this packet
	fragment bool
	icmpType uint8 // when proto is ICMP/ICMPv6 and l4 != 0
}

// parseIP reads the IP header of pkt. ok is false for anything that is
// not a well-formed IPv4 or IPv6 packet.
func parseIP(pkt []byte) (h ipHeader, ok bool) {
	if len(pkt) < 1 {
		return h, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return h, false
		}
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || ihl > len(pkt) {
			return h, false
		}
		h.src = netip.AddrFrom4([4]byte(pkt[12:16]))
		h.dst = netip.AddrFrom4([4]byte(pkt[16:20]))
		h.proto = pkt[9]
		flags := binary.BigEndian.Uint16(pkt[6:8])
		offset := flags & 0x1fff
		h.fragment = offset != 0 || flags&0x2000 != 0
		if offset == 0 {
			h.l4 = ihl
		}
	case 6:
		if len(pkt) < 40 {
			return h, false
		}
		h.src = netip.AddrFrom16([16]byte(pkt[8:24]))
		h.dst = netip.AddrFrom16([16]byte(pkt[24:40]))
		h.proto = pkt[6]
		h.l4 = 40
		if h.proto == protoFrag6 {
			if len(pkt) < 48 {
				return h, false
			}
			h.proto = pkt[40]
			h.fragment = true
			h.l4 = 0
			if binary.BigEndian.Uint16(pkt[42:44])>>3 == 0 {
				h.l4 = 48
			}
		}
	default:
		return h, false
	}
	if h.l4 != 0 {
		switch h.proto {
		case protoTCP, protoUDP:
			if len(pkt) >= h.l4+4 {
				h.dstPort = binary.BigEndian.Uint16(pkt[h.l4+2:])
				h.hasPort = true
			}
		case protoICMP, protoICMPv6:
			if len(pkt) > h.l4 {
				h.icmpType = pkt[h.l4]
			}
		}
	}
	return h, true
}

// isEchoRequest reports whether h is a whole ICMP or ICMPv6 echo request
// with its identifier and sequence number.
func (h ipHeader) isEchoRequest(pkt []byte) bool {
	if h.fragment || h.l4 == 0 || len(pkt) < h.l4+8 {
		return false
	}
	if h.dst.Is4() {
		return h.proto == protoICMP && h.icmpType == icmpEchoRequest4
	}
	return h.proto == protoICMPv6 && h.icmpType == icmpEchoRequest6
}

// decrementTTL lowers the IPv4 TTL or IPv6 hop limit of pkt in place, as a
// router does, and reports false when the packet must not be forwarded.
// The IPv4 header checksum is updated incrementally (RFC 1624).
func decrementTTL(pkt []byte) bool {
	switch pkt[0] >> 4 {
	case 4:
		if pkt[8] <= 1 {
			return false
		}
		pkt[8]--
		// The TTL is the high byte of the word at 8; it fell by one.
		sum := uint32(binary.BigEndian.Uint16(pkt[10:12])) + 0x0100
		sum = (sum & 0xffff) + (sum >> 16)
		binary.BigEndian.PutUint16(pkt[10:12], uint16(sum))
	case 6:
		if pkt[7] <= 1 {
			return false
		}
		pkt[7]--
	}
	return true
}

// checksum is the Internet checksum of b, starting from initial (a
// partial sum such as a pseudo-header's).
func checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = (sum & 0xffff) + (sum >> 16)
	}
	return ^uint16(sum)
}

// echoReply builds the echo reply to the request pkt (with header h): the
// addresses swapped, a fresh IP header without options, the request's
// identifier, sequence number and data.
func echoReply(pkt []byte, h ipHeader) []byte {
	msg := pkt[h.l4:]
	if h.dst.Is4() {
		out := make([]byte, 20+len(msg))
		out[0] = 0x45
		binary.BigEndian.PutUint16(out[2:4], uint16(len(out)))
		out[8] = 64
		out[9] = protoICMP
		src, dst := h.dst.As4(), h.src.As4()
		copy(out[12:16], src[:])
		copy(out[16:20], dst[:])
		binary.BigEndian.PutUint16(out[10:12], checksum(out[:20], 0))
		icmp := out[20:]
		copy(icmp, msg)
		icmp[0], icmp[1] = icmpEchoReply4, 0
		icmp[2], icmp[3] = 0, 0
		binary.BigEndian.PutUint16(icmp[2:4], checksum(icmp, 0))
		return out
	}
	out := make([]byte, 40+len(msg))
	out[0] = 0x60
	binary.BigEndian.PutUint16(out[4:6], uint16(len(msg)))
	out[6] = protoICMPv6
	out[7] = 64
	src, dst := h.dst.As16(), h.src.As16()
	copy(out[8:24], src[:])
	copy(out[24:40], dst[:])
	icmp := out[40:]
	copy(icmp, msg)
	icmp[0], icmp[1] = icmpEchoReply6, 0
	icmp[2], icmp[3] = 0, 0
	// Pseudo-header: source, destination, upper-layer length, next header.
	var pseudo uint32
	for i := 8; i < 40; i += 2 {
		pseudo += uint32(binary.BigEndian.Uint16(out[i:]))
	}
	pseudo += uint32(len(msg)) + protoICMPv6
	binary.BigEndian.PutUint16(icmp[2:4], checksum(icmp, pseudo))
	return out
}
