package forward

import (
	"encoding/binary"
	"net"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ping sends the echo request req (with header h) from an unprivileged
// ICMP socket and, when the destination answers in time, queues the reply
// for the peer. Hosts allow such sockets only to the groups of
// net.ipv4.ping_group_range (for IPv6 as well); elsewhere nothing is
// answered, as if the destination were down, and a debug line says why.
func (f *Forwarder) ping(req []byte, h ipHeader) {
	msg := req[h.l4:]
	id, seq := binary.BigEndian.Uint16(msg[4:6]), binary.BigEndian.Uint16(msg[6:8])
	network, laddr, proto := "udp4", "0.0.0.0", protoICMP
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if h.dst.Is6() {
		network, laddr, proto, typ = "udp6", "::", protoICMPv6, ipv6.ICMPTypeEchoRequest
	}
	log := f.log.With("proto", "icmp", "src", h.src, "dst", h.dst, "id", id, "seq", seq)
	c, err := icmp.ListenPacket(network, laddr)
	if err != nil {
		f.stats.pingUnanswered.Add(1)
		log.Debug("ICMP echo not forwarded: the host allows no unprivileged ICMP socket (see net.ipv4.ping_group_range)", "err", err)
		return
	}
	untrack, ok := f.track(c)
	defer c.Close()
	if !ok {
		return
	}
	defer untrack()

	// The kernel puts its own identifier on the request and matches the
	// reply by it; the sequence number and data are the peer's.
	out, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(id), Seq: int(seq), Data: msg[8:]}}).Marshal(nil)
	if err != nil {
		f.stats.pingUnanswered.Add(1)
		return
	}
	_ = c.SetDeadline(time.Now().Add(pingTimeout))
	if _, err := c.WriteTo(out, &net.UDPAddr{IP: h.dst.AsSlice()}); err != nil {
		f.stats.pingUnanswered.Add(1)
		log.Debug("ICMP echo not sent", "err", err)
		return
	}
	buf := make([]byte, len(out)+512)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			f.stats.pingUnanswered.Add(1)
			log.Debug("ICMP echo unanswered", "err", err)
			return
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && (m.Type == ipv4.ICMPTypeEchoReply || m.Type == ipv6.ICMPTypeEchoReply) && e.Seq == int(seq) {
			break
		}
	}
	reply := echoReply(req, h)
	bp := f.getBuf(len(reply))
	copy(*bp, reply)
	if f.trySend(bp) {
		f.stats.pingAnswered.Add(1)
		log.Debug("ICMP echo answered")
	}
}
