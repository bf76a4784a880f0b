package forward

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// handleUDP takes the first datagram of a new UDP flow from a peer. It
// runs on the packet path and must not block: the flow itself is relayed
// on a goroutine of its own. A flow the policy refuses, or one beyond
// MaxUDPFlows, is dropped datagram by datagram.
func (f *Forwarder) handleUDP(r *udp.ForwarderRequest) {
	src, dst := endpointAddrs(r.ID())
	dns := f.isOwn(dst.Addr()) // only DNS is sent here
	if !dns {
		if err := f.cfg.Policy.Check(dst.Addr(), dst.Port()); err != nil {
			f.stats.udpRefused.Add(1)
			f.log.Debug("UDP datagram refused", "src", src, "dst", dst, "reason", err)
			return
		}
	}
	if !tryAcquire(&f.stats.udpActive, f.cfg.MaxUDPFlows) {
		f.stats.udpLimited.Add(1)
		f.log.Debug("UDP datagram dropped: too many flows", "src", src, "dst", dst, "max", f.cfg.MaxUDPFlows)
		return
	}
	var wq waiter.Queue
	ep, err := r.CreateEndpoint(&wq)
	if err != nil {
		f.stats.udpActive.Add(-1)
		f.stats.udpFailed.Add(1)
		f.log.Debug("UDP flow failed: creating endpoint", "src", src, "dst", dst, "err", err)
		return
	}
	peer := gonet.NewUDPConn(&wq, ep)
	f.stats.udpOpened.Add(1)
	ok := f.spawn(func() {
		defer f.stats.udpActive.Add(-1)
		if dns {
			f.serveDNS(peer, src)
			return
		}
		log := f.log.With("proto", "udp", "src", src, "dst", dst)
		host, err := f.dialAny(f.ctx, "udp", []netip.AddrPort{unmap(dst)})
		if err != nil {
			peer.Close()
			f.stats.udpFailed.Add(1)
			log.Debug("UDP flow failed", "err", err)
			return
		}
		log.Debug("UDP flow forwarded", "via", host.LocalAddr())
		idled := f.relay(end{Conn: peer, abort: func() { peer.Close() }}, hostEnd(host), f.cfg.UDPIdleTimeout, false)
		if idled {
			f.stats.udpIdle.Add(1)
		}
		log.Debug("UDP flow closed", "idle_timeout", idled)
	})
	if !ok {
		peer.Close()
		f.stats.udpActive.Add(-1)
	}
}
