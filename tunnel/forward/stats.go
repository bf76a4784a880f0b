package forward

import "sync/atomic"

// Stats counts what a Forwarder did since it was made. Active counts are
// gauges; everything else only grows.
type Stats struct {
	TCPActive  int64  // TCP connections being relayed now
	TCPOpened  uint64 // TCP connections relayed (DNS over TCP included)
	TCPRefused uint64 // refused by the egress policy (reset)
	TCPLimited uint64 // refused because MaxTCPConns were open (reset)
	TCPFailed  uint64 // the destination could not be reached (reset)
	TCPIdle    uint64 // closed by TCPIdleTimeout

	UDPActive  int64  // UDP flows being relayed now
	UDPOpened  uint64 // UDP flows relayed (DNS flows included)
	UDPRefused uint64 // datagrams refused by the egress policy (dropped)
	UDPLimited uint64 // datagrams dropped because MaxUDPFlows were open
	UDPFailed  uint64 // flows whose host socket could not be opened
	UDPIdle    uint64 // flows closed by UDPIdleTimeout

	PingAnswered   uint64 // ICMP echo requests answered by the destination
	PingUnanswered uint64 // sent (or not allowed by the host) but not answered
	PingRefused    uint64 // refused by the egress policy

	DNSQueries uint64 // DNS queries (UDP) and connections (TCP) to the interface
	DNSFailed  uint64 // queries no resolver answered

	HubPackets uint64 // packets routed from one peer to another
	HubRefused uint64 // of those, refused by the egress policy

	Dropped uint64 // packets nothing could be done with (multicast, other protocols, full queues)
}

// counters is the live form of Stats.
type counters struct {
	tcpActive, udpActive                                  atomic.Int64
	tcpOpened, tcpRefused, tcpLimited, tcpFailed, tcpIdle atomic.Uint64
	udpOpened, udpRefused, udpLimited, udpFailed, udpIdle atomic.Uint64
	pingAnswered, pingUnanswered, pingRefused             atomic.Uint64
	dnsQueries, dnsFailed                                 atomic.Uint64
	hubPackets, hubRefused                                atomic.Uint64
	dropped                                               atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		TCPActive: c.tcpActive.Load(), TCPOpened: c.tcpOpened.Load(), TCPRefused: c.tcpRefused.Load(),
		TCPLimited: c.tcpLimited.Load(), TCPFailed: c.tcpFailed.Load(), TCPIdle: c.tcpIdle.Load(),
		UDPActive: c.udpActive.Load(), UDPOpened: c.udpOpened.Load(), UDPRefused: c.udpRefused.Load(),
		UDPLimited: c.udpLimited.Load(), UDPFailed: c.udpFailed.Load(), UDPIdle: c.udpIdle.Load(),
		PingAnswered: c.pingAnswered.Load(), PingUnanswered: c.pingUnanswered.Load(), PingRefused: c.pingRefused.Load(),
		DNSQueries: c.dnsQueries.Load(), DNSFailed: c.dnsFailed.Load(),
		HubPackets: c.hubPackets.Load(), HubRefused: c.hubRefused.Load(),
		Dropped: c.dropped.Load(),
	}
}

// tryAcquire takes one of limit slots of n, or reports false when all are
// taken.
func tryAcquire(n *atomic.Int64, limit int) bool {
	for {
		cur := n.Load()
		if cur >= int64(limit) {
			return false
		}
		if n.CompareAndSwap(cur, cur+1) {
			return true
		}
	}
}
