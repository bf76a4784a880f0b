package forward

import (
	"sync"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	tcpipsum "gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/stack/gro"
)

// linkEndpoint is the forwarding stack's NIC, on gVisor's channel
// endpoint (attachment, MTU, addresses), with GRO on the way in and GSO
// on the way out.
//
// In: a batch of packets WireGuard decrypted is delivered through a
// gro.GRO, which merges consecutive segments of a TCP flow into one before
// the stack sees them, so the stack's per-segment work (demultiplexing,
// queueing to the endpoint's processor, ACK decisions) runs once per batch
// and flow rather than once per packet.
//
// Out: the NIC offers host GSO (stack.HostGSOSupported, segments up to
// 64 KiB), as a kernel NIC with TSO does: the stack's TCP sender builds
// one segment of up to 64 KiB where it would build 45, and Read cuts it
// into packets of the MTU straight into WireGuard's buffers (segmenter).
// What the stack sends waits in out for WireGuard; when out is full the
// sender waits (WritePackets blocks until WireGuard reads or the endpoint
// closes) instead of the packet being dropped, so a burst of 64 KiB
// segments slows the sender down rather than costing it a loss and a
// retransmission. (gVisor's software GSO, stack.GVisorGSOSupported, with
// the channel endpoint's queue that drops when full, was tried before:
// host-to-peer throughput fell by a third with stalls; docs/BENCHMARKS.md.)
//
// GRO needs the NIC to skip the stack's checksum checks
// (stack.CapabilityRXChecksumOffload: a merged packet's IPv4 header
// checksum is not recomputed), so add checks them itself first, once per
// packet as the stack did: the IPv4 header checksum, and the TCP or UDP
// checksum of every packet that is not a fragment. (The transport checksum
// of a datagram reassembled from fragments is not checked. WireGuard has
// authenticated every byte anyway: a bad checksum can only come from the
// peer's own stack, and only harms its own flow.)
type linkEndpoint struct {
	*channel.Endpoint

	mu         sync.RWMutex // guards dispatcher
	dispatcher stack.NetworkDispatcher

	gros sync.Pool // of *gro.GRO; Write runs on one goroutine per peer

	out       chan *stack.PacketBuffer // what the stack sends, each with a reference of its own
	closed    chan struct{}            // closed by Close: WritePackets stops waiting
	closeOnce sync.Once
}

// gsoMaxSize is the largest segment the stack hands the NIC: the most an
// IPv4 packet can hold (channel.Endpoint says 32 KiB).
const gsoMaxSize = 1<<16 - 1

func newLinkEndpoint(queueLen int, mtu uint32) *linkEndpoint {
	l := &linkEndpoint{
		Endpoint: channel.New(0, mtu, ""),
		out:      make(chan *stack.PacketBuffer, queueLen),
		closed:   make(chan struct{}),
	}
	l.LinkEPCapabilities = stack.CapabilityRXChecksumOffload
	l.SupportedGSOKind = stack.HostGSOSupported
	return l
}

// GSOMaxSize implements stack.GSOEndpoint.
func (*linkEndpoint) GSOMaxSize() uint32 { return gsoMaxSize }

// WritePackets implements stack.LinkEndpoint: it queues the packets for
// Read, waiting for room, and refuses them once the endpoint is closed.
// Multiple concurrent calls are permitted.
func (l *linkEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	for _, pkt := range pkts.AsSlice() {
		select {
		case <-l.closed:
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			return n, nil
		default:
		}
		select {
		case l.out <- pkt.IncRef():
			n++
		case <-l.closed:
			pkt.DecRef()
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			return n, nil
		}
	}
	return n, nil
}

// Close implements stack.LinkEndpoint: writers stop waiting and the
// packets still queued are released. It is idempotent.
func (l *linkEndpoint) Close() {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.Endpoint.Close()
		for {
			select {
			case pkt := <-l.out:
				pkt.DecRef()
			default:
				return
			}
		}
	})
}

// Attach implements stack.LinkEndpoint: the dispatcher is kept for the
// GRO as well.
func (l *linkEndpoint) Attach(d stack.NetworkDispatcher) {
	l.mu.Lock()
	l.dispatcher = d
	l.mu.Unlock()
	l.Endpoint.Attach(d)
}

// inbound is one batch of packets for the stack: add each, then flush.
// It is not safe for concurrent use; each Write takes its own.
type inbound struct {
	l *linkEndpoint
	g *gro.GRO // nil until the first packet
}

// batch starts a batch of inbound packets.
func (l *linkEndpoint) batch() inbound { return inbound{l: l} }

// add hands the stack a copy of pkt, the IPv4 or IPv6 packet parsed as
// h, and reports false when it dropped it for a bad checksum. TCP segments
// may wait in the GRO for the next ones of their flow until flush.
func (b *inbound) add(pkt []byte, h ipHeader) bool {
	if !checksumsValid(pkt, h) {
		return false
	}
	if b.g == nil {
		b.l.mu.RLock()
		d := b.l.dispatcher
		b.l.mu.RUnlock()
		if d == nil {
			return true // not attached (yet, or any more): as the stack would
		}
		if g, ok := b.l.gros.Get().(*gro.GRO); ok {
			b.g = g
		} else {
			b.g = new(gro.GRO)
			b.g.Init(true)
		}
		b.g.Dispatcher = d
	}
	pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(pkt)})
	pkb.NetworkProtocolNumber = protoOf(h)
	pkb.RXChecksumValidated = true
	b.g.Enqueue(pkb)
	pkb.DecRef()
	return true
}

// groBucketSize is how many packets one bucket of gVisor's GRO holds at
// most (its groBucketSize).
const groBucketSize = 8

// flush delivers what the GRO holds and ends the batch. gro.GRO.Flush
// delivers only the first packet of each bucket (it follows the list
// from an entry it has just reset), so it is called as often as a bucket
// can hold packets: every held packet leaves with its own batch.
func (b *inbound) flush() {
	if b.g == nil {
		return
	}
	for range groBucketSize {
		b.g.Flush()
	}
	b.g.Dispatcher = nil
	b.l.gros.Put(b.g)
	b.g = nil
}

// protoOf is the network protocol of an IP packet by its destination.
func protoOf(h ipHeader) tcpip.NetworkProtocolNumber {
	if h.dst.Is6() {
		return header.IPv6ProtocolNumber
	}
	return header.IPv4ProtocolNumber
}

// checksumsValid checks the checksums the stack would: the IPv4 header's,
// and the TCP or UDP checksum over the pseudo-header of a packet that is
// not a fragment (an IPv4 UDP checksum of 0 means none). A packet too
// short for its own length fields is let through: the stack refuses it.
func checksumsValid(pkt []byte, h ipHeader) bool {
	var end int
	if h.dst.Is4() {
		ip := header.IPv4(pkt)
		if !ip.IsChecksumValid() {
			return false
		}
		end = int(ip.TotalLength())
	} else {
		end = header.IPv6MinimumSize + int(header.IPv6(pkt).PayloadLength())
	}
	if h.fragment || h.l4 == 0 || end > len(pkt) || end < h.l4 {
		return true
	}
	seg := pkt[h.l4:end]
	var proto tcpip.TransportProtocolNumber
	switch h.proto {
	case protoTCP:
		proto = header.TCPProtocolNumber
	case protoUDP:
		if len(seg) < header.UDPMinimumSize {
			return true
		}
		if h.dst.Is4() && header.UDP(seg).Checksum() == 0 {
			return true
		}
		proto = header.UDPProtocolNumber
	default:
		return true
	}
	src, dst := tcpip.AddrFromSlice(h.src.AsSlice()), tcpip.AddrFromSlice(h.dst.AsSlice())
	sum := header.PseudoHeaderChecksum(proto, src, dst, uint16(len(seg)))
	return tcpipsum.Checksum(seg, sum) == 0xffff
}
