package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// handleTCP takes a new TCP connection from a peer (a SYN the forwarding
// stack accepted for any destination). It runs on a goroutine of its own
// for the whole life of the connection. The destination is dialed first;
// only then is the peer's handshake completed, so a destination that
// refuses (or a policy that does) is a reset, as it would be without the
// forwarder in between.
func (f *Forwarder) handleTCP(r *tcp.ForwarderRequest) {
	if !f.enter() {
		r.Complete(true)
		return
	}
	defer f.wg.Done()
	id := r.ID()
	src, dst := endpointAddrs(id)
	log := f.log.With("proto", "tcp", "src", src, "dst", dst)

	var targets []netip.AddrPort
	if f.isOwn(dst.Addr()) { // only DNS is sent here
		f.stats.dnsQueries.Add(1)
		if targets = f.resolv.servers(); len(targets) == 0 {
			f.stats.dnsFailed.Add(1)
			log.Debug("DNS over TCP refused: no resolver")
			r.Complete(true)
			return
		}
	} else {
		if err := f.cfg.Policy.Check(dst.Addr(), dst.Port()); err != nil {
			f.stats.tcpRefused.Add(1)
			log.Debug("TCP connection refused", "reason", err)
			r.Complete(true)
			return
		}
		targets = []netip.AddrPort{unmap(dst)}
	}
	if !tryAcquire(&f.stats.tcpActive, f.cfg.MaxTCPConns) {
		f.stats.tcpLimited.Add(1)
		log.Debug("TCP connection refused: too many open", "max", f.cfg.MaxTCPConns)
		r.Complete(true)
		return
	}
	defer f.stats.tcpActive.Add(-1)

	host, err := f.dialAny(f.ctx, "tcp", targets)
	if err != nil {
		f.stats.tcpFailed.Add(1)
		log.Debug("TCP connection failed", "err", err)
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		host.Close()
		f.stats.tcpFailed.Add(1)
		log.Debug("TCP connection failed: completing the peer's handshake", "err", terr)
		r.Complete(true)
		return
	}
	r.Complete(false)
	// Keepalives end connections whose peer vanished without a word.
	ep.SocketOptions().SetKeepAlive(true)
	peer := end{Conn: gonet.NewTCPConn(&wq, ep), abort: func() { abortEndpoint(ep) }}
	f.stats.tcpOpened.Add(1)
	log.Debug("TCP connection forwarded", "via", host.LocalAddr())
	idled := f.relay(peer, hostEnd(host), f.cfg.TCPIdleTimeout, true)
	if idled {
		f.stats.tcpIdle.Add(1)
	}
	log.Debug("TCP connection closed", "idle_timeout", idled)
}

// abortEndpoint resets a gVisor TCP connection instead of closing it.
func abortEndpoint(ep tcpip.Endpoint) {
	ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true, Timeout: 0})
	ep.Close()
}

// dialAny connects to the first target that answers, each within the
// dial timeout.
func (f *Forwarder) dialAny(ctx context.Context, network string, targets []netip.AddrPort) (net.Conn, error) {
	var errs []error
	for _, t := range targets {
		dctx, cancel := context.WithTimeout(ctx, f.cfg.DialTimeout)
		c, err := f.cfg.Dial(dctx, network, t.String())
		cancel()
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("dialing %v: %w", targets, errors.Join(errs...))
}

// endpointAddrs returns the peer's address (remote) and the destination
// (local) of a forwarding-stack endpoint.
func endpointAddrs(id stack.TransportEndpointID) (src, dst netip.AddrPort) {
	sa, _ := netip.AddrFromSlice(id.RemoteAddress.AsSlice())
	da, _ := netip.AddrFromSlice(id.LocalAddress.AsSlice())
	return netip.AddrPortFrom(sa, id.RemotePort), netip.AddrPortFrom(da, id.LocalPort)
}

// unmap turns an IPv4-mapped IPv6 destination into the IPv4 one that a
// host socket would reach anyway.
func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
