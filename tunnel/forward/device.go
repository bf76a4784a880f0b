package forward

import (
	"bytes"
	"net/netip"
	"os"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// readBatch is how many packets one Read hands WireGuard at most: as many
// as wireguard-go reads at once from a kernel TUN device with offloads,
// enough for a 64 KiB segment of the forwarding stack cut into packets.
const readBatch = conn.IdealBatchSize

// device is what WireGuard reads and writes: the netstack's device with
// the Forwarder in front. Name, File, MTU and Events are the netstack's.
type device struct {
	tun.Device
	f *Forwarder
}

// route is where a packet from a peer goes.
type route int

const (
	routeDrop  route = iota
	routeLocal       // the netstack beneath
	routeStack       // the forwarding stack (TCP, UDP, DNS to the interface)
	routeHub         // back out to another peer
	routePing        // answered with an unprivileged ICMP socket
)

var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// route sorts a packet by destination; see the package documentation.
func (f *Forwarder) route(pkt []byte, h ipHeader) route {
	if f.isOwn(h.dst) {
		if f.dnsOn && h.hasPort && h.dstPort == 53 && (h.proto == protoTCP || h.proto == protoUDP) {
			return routeStack
		}
		return routeLocal
	}
	if f.inHub(h.dst) {
		return routeHub
	}
	if h.dst.IsMulticast() || h.dst.IsLinkLocalUnicast() || h.dst == broadcast4 {
		return routeDrop
	}
	switch {
	case h.proto == protoTCP || h.proto == protoUDP:
		return routeStack
	case h.isEchoRequest(pkt):
		return routePing
	}
	return routeDrop
}

// Write takes the packets WireGuard decrypted. Every packet is copied
// before Write returns (WireGuard reuses the buffers); packets that cannot
// be delivered are dropped and counted, never reported as errors.
func (d *device) Write(bufs [][]byte, offset int) (int, error) {
	f := d.f
	in := f.ep.batch()
	defer in.flush()
	for i, b := range bufs {
		pkt := b[offset:]
		if len(pkt) == 0 {
			continue
		}
		h, ok := parseIP(pkt)
		if !ok {
			f.stats.dropped.Add(1)
			continue
		}
		switch f.route(pkt, h) {
		case routeLocal:
			if _, err := d.Device.Write(bufs[i:i+1], offset); err != nil {
				f.stats.dropped.Add(1)
			}
		case routeStack:
			if !in.add(pkt, h) {
				f.stats.dropped.Add(1)
			}
		case routeHub:
			f.routeToPeer(pkt, h)
		case routePing:
			f.startPing(pkt, h)
		default:
			f.stats.dropped.Add(1)
		}
	}
	return len(bufs), nil
}

// Read hands WireGuard the packets queued for the peers, as many as are
// ready up to len(bufs), waiting for the first: what the forwarding stack
// sent, cut into packets of the MTU (segmenter), and what else is queued
// in f.out (the netstack beneath, packets between peers, echo replies).
// WireGuard calls it from one goroutine.
func (d *device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	f := d.f
	n := 0
	for n < len(bufs) {
		if f.seg.busy() {
			if sizes[n] = f.seg.next(bufs[n][offset:]); sizes[n] > 0 {
				n++
			} else {
				f.stats.dropped.Add(1)
			}
			continue
		}
		var (
			bp  *[]byte
			pkt *stack.PacketBuffer
		)
		if n == 0 {
			select {
			case pkt = <-f.ep.out:
			case bp = <-f.out:
			case <-f.ctx.Done():
				return 0, os.ErrClosed
			}
		} else {
			select {
			case pkt = <-f.ep.out:
			case bp = <-f.out:
			default:
				return n, nil
			}
		}
		if pkt != nil {
			f.seg.load(pkt)
			continue
		}
		if len(*bp) > len(bufs[n])-offset {
			f.stats.dropped.Add(1)
		} else {
			sizes[n] = copy(bufs[n][offset:], *bp)
			n++
		}
		f.putBuf(bp)
	}
	return n, nil
}

// BatchSize is how many packets Read may return at once.
func (d *device) BatchSize() int { return readBatch }

// Close closes the Forwarder and the netstack device.
func (d *device) Close() error { return d.f.Close() }

// routeToPeer sends a packet for another peer back out through WireGuard,
// which picks the peer by its allowed IPs (and drops the packet when no
// peer has the address), as a kernel would route it out of the interface.
// The egress policy applies; the TTL is decremented.
func (f *Forwarder) routeToPeer(pkt []byte, h ipHeader) {
	var port uint16
	if h.hasPort {
		port = h.dstPort
	}
	if err := f.cfg.Policy.Check(h.dst, port); err != nil {
		f.stats.hubRefused.Add(1)
		f.log.Debug("packet between peers refused", "src", h.src, "dst", h.dst, "proto", h.proto, "reason", err)
		return
	}
	bp := f.getBuf(len(pkt))
	copy(*bp, pkt)
	if !decrementTTL(*bp) {
		f.putBuf(bp)
		f.stats.dropped.Add(1)
		return
	}
	if f.trySend(bp) {
		f.stats.hubPackets.Add(1)
	}
}

// startPing answers an echo request to an outside address in the
// background, if the policy allows it and not too many are in flight.
func (f *Forwarder) startPing(pkt []byte, h ipHeader) {
	if err := f.cfg.Policy.Check(h.dst, 0); err != nil {
		f.stats.pingRefused.Add(1)
		f.log.Debug("ICMP echo refused", "src", h.src, "dst", h.dst, "reason", err)
		return
	}
	select {
	case f.pingSem <- struct{}{}:
	default:
		f.stats.dropped.Add(1)
		return
	}
	req := bytes.Clone(pkt)
	if !f.spawn(func() {
		defer func() { <-f.pingSem }()
		f.ping(req, h)
	}) {
		<-f.pingSem
	}
}
